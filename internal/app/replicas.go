package app

import (
	"context"
	"fmt"
	"time"

	"github.com/vetca/vetca/internal/replica"
)

// Replica liveness: each serving replica renews the lease "replica:ID"
// every Config.HeartbeatTick for ReplicaTTL. Another replica counts as
// alive while its lease is valid, unless it is known for certain to have
// exited (same kernel boot and PID namespace, process gone).
const (
	DefaultHeartbeatTick = 10 * time.Second
	ReplicaTTL           = 45 * time.Second
	DefaultRecoveryTick  = 30 * time.Second
)

func replicaLease(id string) string { return "replica:" + id }

// Heartbeat renews this replica's lease.
func (a *App) Heartbeat(ctx context.Context) error {
	ok, err := a.DB.AcquireLease(ctx, replicaLease(a.Replica), a.Replica, a.Clock.Now(), ReplicaTTL)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("replica lease %s is held by another holder", replicaLease(a.Replica))
	}
	return nil
}

// replicaAlive reports whether the replica owner may still be signing.
func (a *App) replicaAlive(ctx context.Context, owner string) (bool, error) {
	if replica.ID(owner).Gone() {
		return false, nil
	}
	t, ok, err := a.DB.LeaseExpiry(ctx, replicaLease(owner))
	if err != nil || !ok {
		return false, err
	}
	return t.After(a.Clock.Now()), nil
}

// runHeartbeat renews the lease until ctx ends, then releases it so that
// the other replicas recover this one's intents at once.
func (a *App) runHeartbeat(ctx context.Context) {
	t := time.NewTicker(a.Cfg.HeartbeatTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := a.DB.ReleaseLease(context.WithoutCancel(ctx), replicaLease(a.Replica), a.Replica); err != nil {
				a.Log.Warn("replica lease not released", "err", err)
			}
			return
		case <-t.C:
		}
		if err := a.Heartbeat(ctx); err != nil && ctx.Err() == nil {
			a.Log.Error("replica heartbeat", "err", err)
		}
	}
}

// runRecovery resolves intents of gone replicas every Config.RecoveryTick.
func (a *App) runRecovery(ctx context.Context) {
	t := time.NewTicker(a.Cfg.RecoveryTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := a.RecoverIssuance(ctx); err != nil && ctx.Err() == nil {
			a.Log.Error("issuance recovery", "err", err)
		}
	}
}
