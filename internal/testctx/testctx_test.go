package testctx

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestExpiringLooksLikeAPassedDeadline(t *testing.T) {
	ctx, expire := Expiring(context.Background())
	child, cancel := context.WithTimeout(ctx, time.Hour)
	defer cancel()
	if ctx.Err() != nil || child.Err() != nil {
		t.Fatal("ended before expire")
	}
	expire()
	expire() // twice is harmless
	select {
	case <-child.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("a derived context did not end")
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) || !errors.Is(child.Err(), context.DeadlineExceeded) {
		t.Fatalf("errors %v, %v; want context.DeadlineExceeded", ctx.Err(), child.Err())
	}
}

func TestExpiringEndsWithItsParent(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	ctx, _ := Expiring(parent)
	cancel()
	select {
	case <-ctx.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("did not end with its parent")
	}
}

func TestUntil(t *testing.T) {
	var n atomic.Int32
	ctx, expire := Expiring(context.Background())
	held := Until(func() bool { return n.Add(1) >= 3 }, 30*time.Second, expire)
	if !<-held || ctx.Err() == nil || n.Load() < 3 {
		t.Fatalf("held, err %v, n %d", ctx.Err(), n.Load())
	}
	ctx, expire = Expiring(context.Background())
	if <-Until(func() bool { return false }, 10*time.Millisecond, expire) || ctx.Err() == nil {
		t.Fatal("a condition that never held was reported as held, or the context did not end")
	}
}
