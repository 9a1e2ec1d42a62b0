package auth

// SetBeforeSessionWrite makes StartSession run f between its token check
// and the transaction that writes the session.
func (s *Service) SetBeforeSessionWrite(f func()) { s.beforeSessionWrite = f }
