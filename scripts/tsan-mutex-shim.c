// Teaches ThreadSanitizer the happens-before edges of Swift's `Synchronization.Mutex` on Linux, for
// `make test-sanitize` only (LD_PRELOADed into the TSan test run and the processes it starts).
//
// Why: on Linux `Mutex` locks with an atomic compare-exchange inlined into the caller (which TSan
// instruments and sees) but, when the lock is contended, falls back to `_lockSlow`/`_unlockSlow` in
// libswiftSynchronization.so, which take the lock with FUTEX_LOCK_PI / FUTEX_UNLOCK_PI: the kernel
// hands the lock over, so no instrumented atomic ever records it. TSan then reports every contended
// `withLock` body as racing with the previous holder's, a false positive (a four-thread counter
// under a `Mutex` reaches the right total and still draws reports; with this shim it draws none,
// while an access outside the lock is still reported).
//
// What: each slow path is interposed by symbol name and forwarded to the real one, with
// `__tsan_release(handle)` before unlocking and `__tsan_acquire(handle)` after locking: the same
// sync object (the lock word's address) that the inlined fast path's atomics use. It hides no
// access and suppresses nothing. `__tsan_*` are weak: in a process without TSan (swift-test,
// ffmpeg) the calls are skipped and the functions only forward.
//
// Build: clang (the Swift toolchain's: `swiftcall`/`swift_context` give Swift's calling convention,
// `self` in the swiftself register).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>

extern void __tsan_acquire(void *address) __attribute__((weak));
extern void __tsan_release(void *address) __attribute__((weak));

#define SWIFTCALL __attribute__((swiftcall))
#define SELF __attribute__((swift_context))

#define LOCK_SLOW "$s15Synchronization12_MutexHandleV9_lockSlowyys6UInt32VF"
#define TRY_LOCK_SLOW "$s15Synchronization12_MutexHandleV12_tryLockSlowSbyF"
#define UNLOCK_SLOW "$s15Synchronization12_MutexHandleV11_unlockSlowyyF"

typedef SWIFTCALL void (*LockSlow)(uint32_t, void *SELF);
typedef SWIFTCALL bool (*TryLockSlow)(void *SELF);
typedef SWIFTCALL void (*UnlockSlow)(void *SELF);

// _MutexHandle._lockSlow(_ selfId: UInt32), _tryLockSlow() -> Bool, _unlockSlow(): `self` is the
// handle's address, whose first field is the lock word.
SWIFTCALL void framecast_lock_slow(uint32_t id, void *SELF handle) __asm__(LOCK_SLOW);
SWIFTCALL bool framecast_try_lock_slow(void *SELF handle) __asm__(TRY_LOCK_SLOW);
SWIFTCALL void framecast_unlock_slow(void *SELF handle) __asm__(UNLOCK_SLOW);

SWIFTCALL void framecast_lock_slow(uint32_t id, void *SELF handle) {
    static LockSlow real;
    if (!real) real = (LockSlow)dlsym(RTLD_NEXT, LOCK_SLOW);
    real(id, handle);
    if (__tsan_acquire) __tsan_acquire(handle);
}

SWIFTCALL bool framecast_try_lock_slow(void *SELF handle) {
    static TryLockSlow real;
    if (!real) real = (TryLockSlow)dlsym(RTLD_NEXT, TRY_LOCK_SLOW);
    bool locked = real(handle);
    if (locked && __tsan_acquire) __tsan_acquire(handle);
    return locked;
}

SWIFTCALL void framecast_unlock_slow(void *SELF handle) {
    static UnlockSlow real;
    if (!real) real = (UnlockSlow)dlsym(RTLD_NEXT, UNLOCK_SLOW);
    if (__tsan_release) __tsan_release(handle);
    real(handle);
}
