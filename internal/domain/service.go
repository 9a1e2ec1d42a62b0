package domain

// Service is the domain-validation service. (Skeleton: issue 4 fills it in.)
type Service struct{}
