//go:build !race

package sqlitedb

const raceBuild = false
