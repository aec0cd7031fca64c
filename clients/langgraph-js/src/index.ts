/**
 * A LangGraph.js checkpointer (`BaseCheckpointSaver`) that keeps threads,
 * checkpoints, their metadata and parent links, channel values and pending
 * writes in cortex, through the TypeScript client.
 *
 * The mapping (README.md has the details):
 * - a thread's namespace is two cortex sessions: `<prefix><thread>.<ns>`
 *   holds one snapshot per checkpoint (key `c.<checkpoint id>`, snapshot
 *   metadata = the checkpoint's scalar metadata, so `list({ filter })` is a
 *   history filter), and `<…>.d` holds the channel values (one snapshot per
 *   channel version that changed, key `b.<hash>`) and the pending writes
 *   (one snapshot per `putWrites` call, keys `w.<checkpoint id>.<n>`);
 * - the sessions carry `lg_prefix`, `lg_thread`, `lg_ns`, `lg_role`
 *   metadata: `list` without a thread and `deleteThread` are metadata
 *   searches.
 */
import type { RunnableConfig } from "@langchain/core/runnables";
import {
  BaseCheckpointSaver,
  TASKS,
  WRITES_IDX_MAP,
  compareWritesSortKeys,
  copyCheckpoint,
  getCheckpointId,
  maxChannelVersion,
  writesSortKey,
  type ChannelVersions,
  type Checkpoint,
  type CheckpointListOptions,
  type CheckpointMetadata,
  type CheckpointPendingWrite,
  type CheckpointTuple,
  type PendingWrite,
  type SerializerProtocol,
} from "@langchain/langgraph-checkpoint";
import { Client, CortexError, type BatchItem, type Json, type JsonObject, type MetadataFilter, type Session, type Snapshot } from "@cortex-db/client";

export interface CortexSaverOptions {
  /** A client to use; else one is made from baseUrl and token. */
  client?: Client;
  /** The cortex server, e.g. http://127.0.0.1:8080 (when no client is given). */
  baseUrl?: string;
  /** The server's --api-token (when no client is given). */
  token?: string;
  /**
   * Starts every session id this checkpointer makes (default `lg.`): savers
   * with different prefixes never see each other's threads. At most 40 of
   * `[A-Za-z0-9._:-]`.
   */
  prefix?: string;
  /** The serializer of channel values, metadata and writes (default: LangGraph's JSON+). */
  serde?: SerializerProtocol;
}

/** A serialized value as it is stored: readable JSON when it is JSON, else base64. */
type Stored = { t: string; v?: Json; b?: string };

interface CheckpointState {
  thread_id: string;
  checkpoint_ns: string;
  checkpoint_id: string;
  parent_checkpoint_id: string | null;
  checkpoint: Stored;
  metadata: Stored;
}

interface BlobState {
  channel: string;
  version: Json;
  value: Stored;
}

interface WritesState {
  checkpoint_id: string;
  task_id: string;
  task_path: string;
  writes: { idx: number; channel: string; value: Stored }[];
}

const safePart = /^[A-Za-z0-9-]{1,64}$/;
const safeKey = /^[A-Za-z0-9._:-]{1,100}$/;
/** A metadata value longer than this is filtered on the client, not stored in the snapshot's metadata. */
const maxFilterString = 1024;

export class CortexSaver extends BaseCheckpointSaver<string> {
  readonly client: Client;
  readonly prefix: string;
  /** Sessions known to exist (made by this saver). */
  private known = new Set<string>();
  /** The next free pending-writes slot per checkpoint, a hint. */
  private nextWrite = new Map<string, number>();
  /**
   * Channel values by session and key, most recently used last. A stored
   * channel version never changes (versions carry a random part), so a
   * value read or written once is not read again; a thread deleted (here,
   * or elsewhere: a 404 remakes its sessions) empties the cache.
   */
  private blobs = new Map<string, Stored>();
  private static readonly maxBlobs = 4096;

  constructor(opts: CortexSaverOptions = {}) {
    super(opts.serde);
    if (!opts.client && !opts.baseUrl) {
      throw new TypeError("CortexSaver: give a client or a baseUrl (e.g. http://127.0.0.1:8080)");
    }
    this.client = opts.client ?? new Client({ baseUrl: opts.baseUrl!, token: opts.token });
    this.prefix = opts.prefix ?? "lg.";
    if (!/^[A-Za-z0-9._:-]{0,40}$/.test(this.prefix)) {
      throw new TypeError(`CortexSaver: prefix ${JSON.stringify(this.prefix)} must be at most 40 of [A-Za-z0-9._:-]`);
    }
  }

  // ---- reads

  async getTuple(config: RunnableConfig): Promise<CheckpointTuple | undefined> {
    const thread = config.configurable?.thread_id;
    if (thread === undefined || thread === null) return undefined;
    const threadId = String(thread);
    const ns: string = config.configurable?.checkpoint_ns ?? "";
    const id = getCheckpointId(config);
    const session = await this.sessionIds(threadId, ns);
    let snap: Snapshot<CheckpointState>;
    try {
      snap = id
        ? await this.client.getSnapshotByKey<CheckpointState>(session.checkpoints, await checkpointKey(id))
        : await this.client.latest<CheckpointState>(session.checkpoints);
    } catch (e) {
      if (e instanceof CortexError && e.status === 404) return undefined;
      throw e;
    }
    return this.load(snap.state!, session.data);
  }

  async *list(config: RunnableConfig, options?: CheckpointListOptions): AsyncGenerator<CheckpointTuple> {
    const { before, filter } = options ?? {};
    let limit = options?.limit;
    if (limit !== undefined && limit <= 0) return;
    const thread = config.configurable?.thread_id;
    const threadId = thread === undefined || thread === null ? undefined : String(thread);
    const ns: string | undefined = config.configurable?.checkpoint_ns;
    const onlyId: string | undefined = config.configurable?.checkpoint_id;
    const beforeId: string | undefined = before?.configurable?.checkpoint_id;

    // The server filters on the scalar metadata values; the rest (and a
    // check of all) is done here.
    const serverFilter: MetadataFilter = {};
    for (const [k, v] of Object.entries(filter ?? {})) {
      if (v === null || typeof v === "number" || typeof v === "boolean" || (typeof v === "string" && v.length <= maxFilterString)) {
        serverFilter[k] = v;
      }
    }

    // The checkpoint sessions to read: one when thread and namespace are
    // given, else a metadata search.
    let sessions: { id: string; data: string }[];
    if (threadId !== undefined && ns !== undefined) {
      const s = await this.sessionIds(threadId, ns);
      sessions = [{ id: s.checkpoints, data: s.data }];
    } else {
      const m: MetadataFilter = { lg_prefix: this.prefix, lg_role: "checkpoints" };
      if (threadId !== undefined) m.lg_thread = threadId;
      if (ns !== undefined) m.lg_ns = ns;
      sessions = [];
      for await (const s of this.client.listSessions({ metadata: m, pageSize: 1000 })) {
        sessions.push({ id: s.id, data: `${s.id}.d` });
      }
    }

    const pageSize = Math.min(1000, Math.max(10, limit ?? 100));
    const streams = sessions.map((s) => ({ ...s, it: this.checkpointsOf(s.id, serverFilter, pageSize, (st) => {
      if (onlyId !== undefined && st.checkpoint_id !== onlyId) return false;
      if (beforeId !== undefined && !(st.checkpoint_id < beforeId)) return false;
      return true;
    }) }));
    // Newest first across sessions: merge the streams by checkpoint id
    // (each stream is newest first).
    const heads = await Promise.all(streams.map((s) => s.it.next()));
    for (;;) {
      let best = -1;
      for (let i = 0; i < heads.length; i++) {
        if (heads[i].done) continue;
        if (best < 0 || (heads[i].value as CheckpointState).checkpoint_id > (heads[best].value as CheckpointState).checkpoint_id) best = i;
      }
      if (best < 0) return;
      const st = heads[best].value as CheckpointState;
      const tuple = await this.load(st, streams[best].data);
      if (filter && !Object.entries(filter).every(([k, v]) => deepEqual((tuple.metadata as Record<string, unknown>)?.[k], v))) {
        heads[best] = await streams[best].it.next();
        continue;
      }
      yield tuple;
      if (limit !== undefined && --limit <= 0) {
        for (const s of streams) await s.it.return(undefined);
        return;
      }
      heads[best] = await streams[best].it.next();
    }
  }

  /** The checkpoint snapshots of one session, newest first, that pass keep. */
  private async *checkpointsOf(
    session: string,
    metadata: MetadataFilter,
    pageSize: number,
    keep: (st: CheckpointState) => boolean,
  ): AsyncGenerator<CheckpointState, void, undefined> {
    try {
      for await (const snap of this.client.history<CheckpointState>(session, { includeState: true, metadata, pageSize })) {
        if (keep(snap.state!)) yield snap.state!;
      }
    } catch (e) {
      if (e instanceof CortexError && e.status === 404) return; // deleted meanwhile
      throw e;
    }
  }

  /** Builds the tuple of a stored checkpoint: channel values, pending writes, parent. */
  private async load(st: CheckpointState, dataSession: string): Promise<CheckpointTuple> {
    const checkpoint = (await this.decode(st.checkpoint)) as Checkpoint;
    const [metadata, values, pendingWrites] = await Promise.all([
      this.decode(st.metadata) as Promise<CheckpointMetadata>,
      this.channelValues(dataSession, checkpoint.channel_versions ?? {}),
      this.pendingWrites(dataSession, st.checkpoint_id),
    ]);
    checkpoint.channel_values = values;
    const parent = st.parent_checkpoint_id ?? undefined;
    if (checkpoint.v < 4 && parent !== undefined) {
      await this.migratePendingSends(checkpoint, dataSession, parent);
    }
    const tuple: CheckpointTuple = {
      config: { configurable: { thread_id: st.thread_id, checkpoint_ns: st.checkpoint_ns, checkpoint_id: st.checkpoint_id } },
      checkpoint,
      metadata,
      pendingWrites,
    };
    if (parent !== undefined) {
      tuple.parentConfig = { configurable: { thread_id: st.thread_id, checkpoint_ns: st.checkpoint_ns, checkpoint_id: parent } };
    }
    return tuple;
  }

  /** The channel values at these versions (a channel whose value was never stored is left out). */
  private async channelValues(dataSession: string, versions: ChannelVersions): Promise<Record<string, unknown>> {
    const entries = await Promise.all(
      Object.entries(versions).map(async ([channel, version]) => {
        try {
          const key = await blobKey(channel, version);
          let v = this.cachedBlob(dataSession, key);
          if (v === undefined) {
            const snap = await this.client.getSnapshotByKey<BlobState>(dataSession, key);
            v = snap.state!.value;
            this.cacheBlob(dataSession, key, v);
          }
          if (v.t === "empty") return undefined;
          return [channel, await this.decode(v)] as const;
        } catch (e) {
          if (e instanceof CortexError && e.status === 404) return undefined;
          throw e;
        }
      }),
    );
    const out: Record<string, unknown> = {};
    for (const e of entries) if (e) out[e[0]] = e[1];
    return out;
  }

  /** The stored writes groups of a checkpoint, in the order they were put. */
  private async writeGroups(dataSession: string, checkpointId: string): Promise<WritesState[]> {
    const base = await writesKeyBase(checkpointId);
    const groups: WritesState[] = [];
    const step = 4;
    for (let n = 0; ; n += step) {
      const got = await Promise.all(
        Array.from({ length: step }, (_, i) =>
          this.client.getSnapshotByKey<WritesState>(dataSession, `${base}.${n + i}`).then(
            (s) => s.state!,
            (e) => {
              if (e instanceof CortexError && e.status === 404) return undefined;
              throw e;
            },
          ),
        ),
      );
      for (const g of got) {
        if (!g) return groups;
        groups.push(g);
      }
    }
  }

  /** The pending writes of a checkpoint, in writesSortKey order. */
  private async pendingWrites(dataSession: string, checkpointId: string): Promise<CheckpointPendingWrite[]> {
    const groups = await this.writeGroups(dataSession, checkpointId);
    // A regular write (idx >= 0) is kept from its first put, a special one
    // (ERROR, INTERRUPT, … with a negative idx) from its last.
    const byKey = new Map<string, { path: string; task: string; idx: number; channel: string; value: Stored }>();
    for (const g of groups) {
      for (const w of g.writes) {
        const k = `${g.task_id},${w.idx}`;
        if (w.idx >= 0 && byKey.has(k)) continue;
        byKey.set(k, { path: g.task_path, task: g.task_id, idx: w.idx, channel: w.channel, value: w.value });
      }
    }
    const all = [...byKey.values()];
    all.sort((a, b) => compareWritesSortKeys(writesSortKey(a.path, a.task, a.idx), writesSortKey(b.path, b.task, b.idx)));
    return Promise.all(all.map(async (w) => [w.task, w.channel, await this.decode(w.value)] as CheckpointPendingWrite));
  }

  /** Checkpoints before v4 kept pending sends as the parent's TASKS writes. */
  private async migratePendingSends(checkpoint: Checkpoint, dataSession: string, parentId: string): Promise<void> {
    const writes = await this.pendingWrites(dataSession, parentId);
    const sends = writes.filter(([, channel]) => channel === TASKS).map(([, , value]) => value);
    checkpoint.channel_values ??= {};
    checkpoint.channel_values[TASKS] = sends;
    checkpoint.channel_versions ??= {};
    checkpoint.channel_versions[TASKS] =
      Object.keys(checkpoint.channel_versions).length > 0
        ? maxChannelVersion(...Object.values(checkpoint.channel_versions))
        : this.getNextVersion(undefined);
  }

  // ---- writes

  async put(
    config: RunnableConfig,
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata,
    newVersions: ChannelVersions,
  ): Promise<RunnableConfig> {
    const thread = config.configurable?.thread_id;
    if (thread === undefined || thread === null) {
      throw new Error('CortexSaver.put: the config has no "thread_id" in its "configurable": pass one, e.g. graph.invoke(input, { configurable: { thread_id: "t-1" } })');
    }
    const threadId = String(thread);
    const ns: string = config.configurable?.checkpoint_ns ?? "";
    const parent: string | undefined = config.configurable?.checkpoint_id;
    const copy = copyCheckpoint(checkpoint);
    const values = copy.channel_values ?? {};
    const { channel_values: _, ...rest } = copy;
    const session = await this.sessionIds(threadId, ns);

    const items: BatchItem[] = [];
    // The values of the channels that changed, one snapshot each (a channel
    // version's value never changes, so a repeat is answered by the first).
    for (const [channel, version] of Object.entries(newVersions)) {
      const value: Stored = channel in values ? await this.encode(values[channel]) : { t: "empty" };
      items.push({
        sessionId: session.data,
        key: await blobKey(channel, version),
        state: { channel, version: version as Json, value } satisfies BlobState,
        metadata: { kind: "channel" },
      });
    }
    const st: CheckpointState = {
      thread_id: threadId,
      checkpoint_ns: ns,
      checkpoint_id: checkpoint.id,
      parent_checkpoint_id: parent ?? null,
      checkpoint: await this.encode(rest),
      metadata: await this.encode(metadata),
    };
    items.push({
      sessionId: session.checkpoints,
      key: await checkpointKey(checkpoint.id),
      state: st as unknown as Json,
      metadata: filterableMetadata(metadata),
    });
    await this.withSessions(threadId, ns, () => this.client.appendBatch(items));
    for (const it of items) {
      if (it.sessionId === session.data) this.cacheBlob(session.data, it.key!, (it.state as unknown as BlobState).value);
    }
    return { configurable: { thread_id: threadId, checkpoint_ns: ns, checkpoint_id: checkpoint.id } };
  }

  async putWrites(config: RunnableConfig, writes: PendingWrite[], taskId: string, taskPath?: string): Promise<void> {
    const thread = config.configurable?.thread_id;
    const checkpointId: string | undefined = config.configurable?.checkpoint_id;
    if (thread === undefined || thread === null) {
      throw new Error('CortexSaver.putWrites: the config has no "thread_id" in its "configurable"');
    }
    if (checkpointId === undefined) {
      throw new Error('CortexSaver.putWrites: the config has no "checkpoint_id" in its "configurable": pass the config put returned');
    }
    const threadId = String(thread);
    const ns: string = config.configurable?.checkpoint_ns ?? "";
    const session = await this.sessionIds(threadId, ns);
    const st: WritesState = {
      checkpoint_id: checkpointId,
      task_id: taskId,
      task_path: taskPath ?? "",
      writes: await Promise.all(
        writes.map(async ([channel, value], idx) => ({
          idx: WRITES_IDX_MAP[channel] || idx,
          channel,
          value: await this.encode(value),
        })),
      ),
    };
    const base = await writesKeyBase(checkpointId);
    const hint = `${session.data}\u0000${checkpointId}`;
    // Take the next free slot: a slot taken by another group is 409, so try
    // the next; the same group again is answered by the first (nothing added).
    let n = this.nextWrite.get(hint) ?? 0;
    await this.withSessions(threadId, ns, async () => {
      for (;;) {
        try {
          await this.client.append(session.data, st as unknown as Json, { key: `${base}.${n}`, metadata: { kind: "writes" } });
          break;
        } catch (e) {
          if (e instanceof CortexError && e.status === 409 && e.slug === "exists") {
            n++;
            continue;
          }
          throw e;
        }
      }
    });
    this.nextWrite.set(hint, n + 1);
    if (this.nextWrite.size > 10_000) this.nextWrite.clear();
  }

  async deleteThread(threadId: string): Promise<void> {
    const ids: string[] = [];
    for await (const s of this.client.listSessions({ metadata: { lg_prefix: this.prefix, lg_thread: String(threadId) }, pageSize: 1000 })) {
      ids.push(s.id);
    }
    for (const id of ids) {
      this.known.delete(id);
      await this.client.deleteSession(id).catch((e) => {
        if (!(e instanceof CortexError && e.status === 404)) throw e;
      });
    }
    this.nextWrite.clear();
    this.blobs.clear();
  }

  /**
   * Versions are `<32-digit counter>.<16 random digits>`: a thread forked
   * from an older checkpoint never gives two different values the same
   * channel version.
   */
  getNextVersion(current: string | undefined): string {
    const cur = current as string | number | undefined; // integer versions of other savers too
    let n = 0;
    if (typeof cur === "number") n = cur;
    else if (typeof cur === "string") n = Number.parseInt(cur.split(".")[0], 10) || 0;
    return `${String(n + 1).padStart(32, "0")}.${Math.random().toFixed(16).slice(2)}`;
  }

  /** Deletes every session of this saver's prefix: every thread it holds. */
  async deleteAll(): Promise<void> {
    const ids: string[] = [];
    for await (const s of this.client.listSessions({ metadata: { lg_prefix: this.prefix }, pageSize: 1000 })) ids.push(s.id);
    for (const id of ids) {
      await this.client.deleteSession(id).catch((e) => {
        if (!(e instanceof CortexError && e.status === 404)) throw e;
      });
    }
    this.known.clear();
    this.nextWrite.clear();
    this.blobs.clear();
  }

  // ---- plumbing

  /** The two sessions of a thread's namespace. */
  private async sessionIds(threadId: string, ns: string): Promise<{ checkpoints: string; data: string }> {
    const checkpoints = `${this.prefix}${await part(threadId)}.${ns === "" ? "r" : await part(ns)}`;
    return { checkpoints, data: `${checkpoints}.d` };
  }

  /** Runs fn with the thread's sessions made; once more if one was deleted meanwhile. */
  private async withSessions<T>(threadId: string, ns: string, fn: () => Promise<T>): Promise<T> {
    const s = await this.sessionIds(threadId, ns);
    if (!this.known.has(s.checkpoints)) await this.makeSessions(threadId, ns, s);
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof CortexError && e.status === 404)) throw e;
      await this.makeSessions(threadId, ns, s);
      return fn();
    }
  }

  private cachedBlob(session: string, key: string): Stored | undefined {
    const k = `${session}\u0000${key}`;
    const v = this.blobs.get(k);
    if (v !== undefined) {
      this.blobs.delete(k);
      this.blobs.set(k, v);
    }
    return v;
  }

  private cacheBlob(session: string, key: string, v: Stored): void {
    this.blobs.set(`${session}\u0000${key}`, v);
    if (this.blobs.size > CortexSaver.maxBlobs) this.blobs.delete(this.blobs.keys().next().value!);
  }

  private async makeSessions(threadId: string, ns: string, s: { checkpoints: string; data: string }): Promise<void> {
    if (this.known.has(s.checkpoints)) this.blobs.clear(); // deleted elsewhere: its values may come back different
    const m: JsonObject = { lg_prefix: this.prefix, lg_thread: threadId, lg_ns: ns };
    await Promise.all([
      this.client.putSession(s.checkpoints, { metadata: { ...m, lg_role: "checkpoints" } }),
      this.client.putSession(s.data, { metadata: { ...m, lg_role: "data" } }),
    ]);
    this.known.add(s.checkpoints);
    if (this.known.size > 10_000) this.known.clear();
  }

  private async encode(value: unknown): Promise<Stored> {
    const [t, bytes] = await this.serde.dumpsTyped(value);
    if (t === "json") {
      const text = new TextDecoder().decode(bytes);
      try {
        return { t, v: JSON.parse(text) as Json };
      } catch {
        // not JSON after all: keep the bytes
      }
    }
    return { t, b: toBase64(bytes) };
  }

  private async decode(s: Stored): Promise<any> {
    if (s.b !== undefined) return this.serde.loadsTyped(s.t, fromBase64(s.b));
    return this.serde.loadsTyped(s.t, JSON.stringify(s.v ?? null));
  }
}

/** The scalar metadata values, which the server can filter on. */
function filterableMetadata(m: CheckpointMetadata): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(m ?? {})) {
    if (v === null || typeof v === "number" || typeof v === "boolean" || (typeof v === "string" && v.length <= maxFilterString)) {
      out[k] = v as Json;
    }
  }
  return out;
}

/** A session id part for a thread id or namespace: itself when safe, else a hash. */
async function part(s: string): Promise<string> {
  return safePart.test(s) ? `e${s}` : `h${await hash(s)}`;
}

async function checkpointKey(id: string): Promise<string> {
  return safeKey.test(id) ? `c.${id}` : `ch.${await hash(id)}`;
}

async function writesKeyBase(id: string): Promise<string> {
  return safeKey.test(id) ? `w.${id}` : `wh.${await hash(id)}`;
}

async function blobKey(channel: string, version: unknown): Promise<string> {
  return `b.${await hash(`${channel}\u0000${JSON.stringify(version)}`)}`;
}

/** The first 160 bits of SHA-256, in hex. */
async function hash(s: string): Promise<string> {
  const d = new Uint8Array(await globalThis.crypto.subtle.digest("SHA-256", new TextEncoder().encode(s)));
  let out = "";
  for (let i = 0; i < 20; i++) out += d[i].toString(16).padStart(2, "0");
  return out;
}

function toBase64(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

function fromBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
