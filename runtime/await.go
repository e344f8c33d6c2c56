package runtime

import (
	"context"
	"sync/atomic"
)

// Await runs start on the loop and waits for the result it reports,
// possibly much later, through done. It is how a blocking caller with a
// context drives a client procedure of the mesh stack, which reports
// through a callback on the node's executor:
//
//	st, err := runtime.Await(ctx, l, func(done func(dfu.Status, error)) {
//		cli.Start(target, params, done)
//	})
//
// Await returns the first result given to done (later calls are ignored;
// done may be called from any goroutine); ErrClosed if the loop stops
// first; or ctx.Err() if ctx ends first, in which case the procedure keeps
// running on the loop (use AwaitCancel to stop it).
func Await[T any](ctx context.Context, l *Loop, start func(done func(T, error))) (T, error) {
	return AwaitCancel(ctx, l, func(done func(T, error)) func() {
		start(done)
		return nil
	})
}

// AwaitCancel is Await for a procedure that can be cancelled: start
// returns a cancel function (nil if there is nothing to cancel). When ctx
// ends before the result arrives, AwaitCancel posts cancel to the loop,
// where it runs unless done was called first, and returns ctx.Err()
// without waiting for it. A result the procedure reports after that is
// ignored.
func AwaitCancel[T any](ctx context.Context, l *Loop, start func(done func(T, error)) (cancel func())) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	type result struct {
		v   T
		err error
	}
	results := make(chan result, 1)
	var finished atomic.Bool
	done := func(v T, err error) {
		if finished.CompareAndSwap(false, true) {
			results <- result{v, err}
		}
	}
	var cancel func() // read and written only on the loop
	ok := l.post(func() {
		if ctx.Err() != nil {
			return // the caller has gone: do not start
		}
		cancel = start(done)
	})
	if !ok {
		return zero, ErrClosed
	}
	select {
	case r := <-results:
		return r.v, r.err
	case <-ctx.Done():
		select {
		case r := <-results:
			return r.v, r.err
		default:
		}
		l.post(func() {
			if cancel != nil && finished.CompareAndSwap(false, true) {
				cancel()
			}
		})
		return zero, ctx.Err()
	case <-l.done:
		select {
		case r := <-results:
			return r.v, r.err
		default:
		}
		return zero, ErrClosed
	}
}
