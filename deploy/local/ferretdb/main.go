// Command ferretdb runs an embedded FerretDB (SQLite backend) for local development.
//
// It exists because `go install` of FerretDB's own command panics on a missing
// generated version file; the embeddable package has no such requirement.
// The Carepath launcher (python3 -m deploy.local.launcher) builds it, with
// id-index.patch applied to FerretDB, and supervises it.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// gcPercent is the garbage collector's target unless GOGC says otherwise (Go's default is 100).
// Measured on the journey bench: 100 -> 400 took FerretDB's CPU per intake from 111 to 87 ms at
// 3 intakes/s and from 115 to 88 ms at 10/s; 400 -> 1600, two alternating pairs at 10/s,
// from 61-64 to 55-56 ms, for about 145 MB resident instead of 35-90.
const gcPercent = 1600

// memoryLimit bounds the heap unless GOMEMLIMIT says otherwise: near it the collector runs as
// often as it must, so the lax gcPercent above cannot grow FerretDB without end (a large live
// heap, say with history, times 17).
const memoryLimit = 512 << 20

// maxProcs is how many threads run Go code at once unless GOMAXPROCS says otherwise (Go's default:
// one per core). FerretDB on SQLite serves the services' round trips one short transaction
// after another; on 2 cores, one thread spent less on waking and switching threads and
// scanning for work. Measured on the journey bench, alternating restarts: FerretDB's CPU per
// intake 73 -> 60-61 ms at 10 intakes/s and 87-91 -> 71-78 ms at 20/s, booking no fewer.
const maxProcs = 1

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(maxProcs)
	}
	listenAddr := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on")
	sqliteURL := flag.String("sqlite-url", "file:data/", "SQLite URI of the data directory (must end with /)")
	logLevel := flag.String("log-level", "warn", "FerretDB log level: debug, info (logs every connection), warn or error")
	flag.Parse()

	if err := run(*listenAddr, *sqliteURL, *logLevel); err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb:", err)
		os.Exit(1)
	}
}

// run serves until SIGTERM or SIGINT, so the launcher's stop signal shuts
// FerretDB down cleanly and closes its SQLite files.
func run(listenAddr, sqliteURL, logLevel string) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("invalid -log-level %q: %w", logLevel, err)
	}

	// FerretDB logs every client connection at INFO, so it gets its own level;
	// the startup line below always shows, so the log says what is serving where.
	ferretLogger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: listenAddr},
		Handler:   "sqlite",
		SQLiteURL: sqliteURL,
		Logger:    ferretLogger,
	})
	if err != nil {
		return err
	}

	logger.Info("FerretDB listening", slog.String("addr", listenAddr), slog.String("sqlite", sqliteURL))

	return f.Run(ctx)
}
