package gateway

// DecisionCacheOn reports whether the generation caches decisions (tests).
func DecisionCacheOn(g *Generation) bool { return g.Decisions != nil }
