// Package approval is the stage between a command's dispatch and its action: a command
// that changes things waits here until enough admins agree, and runs exactly once
// when they do. The policy package says how much agreement a command needs; Engine
// asks the admins, counts their answers, closes what expires and, after a restart,
// finishes what a stop left half-done.
package approval
