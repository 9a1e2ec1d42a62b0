package web

// domainRoutes registers the CONTRACT §4 endpoints. (Skeleton: issue 4.)
func (s *Server) domainRoutes() {}
