package main

// The binary serves every provider msgdispatch ships; providers/all
// registers them.
import _ "github.com/msgdispatch/msgdispatch/providers/all"
