package config

// PatternWords exposes the schema pattern descriptions to tests.
var PatternWords = patternWords
