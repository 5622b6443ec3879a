// Package greeting says hello.
package greeting

// For returns the greeting for name.
func For(name string) string { return "hello from go, " + name }
