package config_test

// The config tests decode apps of every provider the binary registers.
import _ "github.com/msgdispatch/msgdispatch/providers/all"
