/* wsc_maskpool.h - client masking keys from a buffer of CSPRNG bytes.
 *
 * build_frame(mask=True) needs 4 unpredictable bytes per frame; one os.urandom call per frame costs
 * a system call (about 1 us). The pool holds WSC_POOL_SIZE bytes from os.urandom and hands them out
 * 4 at a time; frames.pyx refills it when it is empty (never from `random`).
 *
 * Fork: a child must not reuse the parent's pool (both would send the same masks), so a
 * pthread_atfork child handler discards it (and resets the lock). Threads: with the GIL, take and
 * fill are plain C under the GIL, so atomic; on free-threaded builds (Py_GIL_DISABLED) a PyMutex
 * guards them.
 */
#ifndef WSC_MASKPOOL_H
#define WSC_MASKPOOL_H

#include <Python.h>
#include <string.h>

#ifndef _WIN32
#include <pthread.h>
#endif

#define WSC_POOL_SIZE 4096

#ifdef Py_GIL_DISABLED
#define WSC_POOL_LOCK() PyMutex_Lock(&wsc_pool.lock)
#define WSC_POOL_UNLOCK() PyMutex_Unlock(&wsc_pool.lock)
#else
#define WSC_POOL_LOCK() ((void)0)
#define WSC_POOL_UNLOCK() ((void)0)
#endif

static struct {
    unsigned char bytes[WSC_POOL_SIZE];
    size_t used; /* bytes handed out; WSC_POOL_SIZE: empty */
#ifdef Py_GIL_DISABLED
    PyMutex lock;
#endif
} wsc_pool = {{0}, WSC_POOL_SIZE
#ifdef Py_GIL_DISABLED
              , {0}
#endif
};

static void wsc_pool_discard_in_child(void)
{
    memset(&wsc_pool, 0, sizeof(wsc_pool)); /* also unlocks a lock another thread held at fork */
    wsc_pool.used = WSC_POOL_SIZE;
}

/* once, at import: 0 on success */
static int wsc_pool_init(void)
{
#ifndef _WIN32
    return pthread_atfork(NULL, NULL, wsc_pool_discard_in_child);
#else
    return 0;
#endif
}

/* 4 fresh bytes into key: 1, or 0 when the pool is empty (refill, then try again) */
static int wsc_pool_take(unsigned char key[4])
{
    int ok = 0;

    WSC_POOL_LOCK();
    if (wsc_pool.used <= WSC_POOL_SIZE - 4) {
        memcpy(key, wsc_pool.bytes + wsc_pool.used, 4);
        wsc_pool.used += 4;
        ok = 1;
    }
    WSC_POOL_UNLOCK();
    return ok;
}

/* replace the pool with WSC_POOL_SIZE fresh bytes */
static void wsc_pool_fill(const unsigned char *fresh)
{
    WSC_POOL_LOCK();
    memcpy(wsc_pool.bytes, fresh, WSC_POOL_SIZE);
    wsc_pool.used = 0;
    WSC_POOL_UNLOCK();
}

#endif /* WSC_MASKPOOL_H */
