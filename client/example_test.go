package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/cortex-db/cortex/client"
)

func Example() {
	ctx := context.Background()
	c, err := client.New(startServer()) // e.g. "http://127.0.0.1:8080", client.WithToken(token)
	if err != nil {
		log.Fatal(err)
	}
	if _, _, err := c.PutSession(ctx, "agent-42", client.SessionInput{Metadata: map[string]string{"user": "ada"}}); err != nil {
		log.Fatal(err)
	}
	res, err := c.Append(ctx, "agent-42", client.AppendInput{State: map[string]any{"step": 1, "notes": []string{"hello"}}})
	if err != nil {
		log.Fatal(err)
	}
	latest, err := c.Latest(ctx, "agent-42")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Version, string(latest.State))
	// Output: 1 {"notes":["hello"],"step":1}
}

// An append that expects a version: a concurrent writer got there first,
// and the error says which version is the latest.
func ExampleClient_Append_conditional() {
	ctx := context.Background()
	c, _ := client.New(startServer())
	c.PutSession(ctx, "doc-7", client.SessionInput{})
	c.Append(ctx, "doc-7", client.AppendInput{State: "first", ExpectedVersion: client.Version(0)})

	_, err := c.Append(ctx, "doc-7", client.AppendInput{State: "second", ExpectedVersion: client.Version(0)})
	var e *client.Error
	if errors.As(err, &e) && client.IsPreconditionFailed(err) {
		fmt.Println(e.Status, e.Slug(), "latest is", *e.ActualVersion)
	}
	// Output: 412 version-conflict latest is 1
}

func ExampleClient_History() {
	ctx := context.Background()
	c, _ := client.New(startServer())
	c.PutSession(ctx, "chat-1", client.SessionInput{})
	for i := 1; i <= 5; i++ {
		c.Append(ctx, "chat-1", client.AppendInput{State: i})
	}
	// Newest first; the iterator follows next_cursor (2 a page here).
	for snap, err := range c.History(ctx, "chat-1", client.HistoryOptions{Limit: 2, IncludeState: true}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Print(snap.Version, "=", string(snap.State), " ")
	}
	fmt.Println()
	// Output: 5=5 4=4 3=3 2=2 1=1
}

func ExampleClient_Watch() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, _ := client.New(startServer())
	c.PutSession(ctx, "job-9", client.SessionInput{})
	go func() {
		c.Append(ctx, "job-9", client.AppendInput{State: "queued"})
		c.Append(ctx, "job-9", client.AppendInput{State: "done"})
	}()
	for ev, err := range c.Watch(ctx, "job-9", client.WatchOptions{IncludeState: true}) {
		if err != nil {
			log.Fatal(err)
		}
		if ev.Kind == client.EventSnapshot {
			fmt.Println(ev.Snapshot.Version, string(ev.Snapshot.State))
			if string(ev.Snapshot.State) == `"done"` {
				break
			}
		}
	}
	// Output:
	// 1 "queued"
	// 2 "done"
}

func ExampleIsNotFound() {
	c, _ := client.New(startServer())
	_, err := c.GetSession(context.Background(), "never-created")
	fmt.Println(client.IsNotFound(err))
	// Output: true
}
