package app

import "context"

// wireDomains builds the domain-validation service. (Skeleton: issue 4.)
func (a *App) wireDomains(ctx context.Context) error { return nil }
