package worker_test

import (
	"time"

	"github.com/msgdispatch/msgdispatch/producer"
)

func producerExpiresIn(d time.Duration) producer.SendOption {
	return producer.ExpiresAt(time.Now().Add(d))
}
