package httpapi

// Patterns returns the mux patterns the server registered, in order.
func (s *Server) Patterns() []string { return append([]string(nil), s.patterns...) }
