// Command worker runs a periodic background job until SIGTERM or SIGINT.
package main

import (
	"context"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	interval := 30 * time.Second
	if v := os.Getenv("WORKER_INTERVAL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			log.Fatalf("WORKER_INTERVAL: %v", err)
		}
		interval = d
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	log.Printf("worker started, interval %s", interval)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()

	for {
		select {
		case <-ctx.Done():
			log.Print("worker stopping")
			return
		case t := <-ticker.C:
			runJob(ctx, t)
		}
	}
}

// runJob stands in for real work (polling a queue, sending emails, ...).
func runJob(ctx context.Context, t time.Time) {
	if ctx.Err() != nil {
		return
	}
	log.Printf("job ran at %s", t.UTC().Format(time.RFC3339))
}
