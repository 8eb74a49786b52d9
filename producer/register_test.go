package producer_test

// The producer's tests use apps of the providers the binary registers.
import _ "github.com/msgdispatch/msgdispatch/providers/all"
