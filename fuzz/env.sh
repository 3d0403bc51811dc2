# Source me: the environment that imports a sanitizer build of wscodec into a normal (non-ASan)
# Python.   source fuzz/env.sh TREE [PYTHON]       (TREE: fuzz/build_asan.sh's destination)
# then run Python as `san_python ARGS...` (the preload applies to that process alone: preloading
# into every command would break the shell tools, libFuzzer needs libpython's symbols).
#
# * libasan must be loaded before anything else allocates: LD_PRELOAD it.
# * atheris' libFuzzer is preloaded ahead of it: the ASan runtime carries weak no-op
#   __sanitizer_cov_trace_cmp* stubs, and the first definition in load order wins, so this order
#   routes the compiled code's comparison hooks to libFuzzer (coverage feedback) instead.
#   atheris then finds LLVMFuzzerRunDriver loaded and uses it (core_without_libfuzzer).
#   Without atheris installed only libasan is preloaded (the leak checks need no fuzzer).
# * verify_asan_link_order=0: libasan is not first in the link map (libFuzzer is), on purpose.
# * detect_leaks=0: CPython keeps memory until exit by design; the leak checks are separate.
# * PYTHONMALLOC=malloc: Python objects come from malloc, so ASan sees overflows of bytes objects
#   (pymalloc arenas would hide them).
_wsc_tree="${1:?usage: source fuzz/env.sh TREE [PYTHON]}"
_wsc_py="${2:-python3}"
_wsc_asan="$(readlink -f "$(gcc -print-file-name=libasan.so)")"
_wsc_fuzzer="$("$_wsc_py" -c 'import importlib.util as u; s = u.find_spec("atheris"); import os, glob; print((glob.glob(os.path.join(os.path.dirname(s.origin), "core_with_libfuzzer*.so")) or [""])[0] if s else "")' 2>/dev/null || true)"
export WSCODEC_SAN_PRELOAD="${_wsc_fuzzer:+$_wsc_fuzzer:}$_wsc_asan"
export WSCODEC_SAN_PYTHON="$_wsc_py"
export ASAN_OPTIONS="detect_leaks=0:verify_asan_link_order=0:abort_on_error=1:symbolize=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export PYTHONMALLOC=malloc
export PYTHONPATH="$_wsc_tree/src${PYTHONPATH:+:$PYTHONPATH}"
export WSCODEC_REQUIRE_EXTENSIONS=1
unset _wsc_tree _wsc_py _wsc_asan _wsc_fuzzer

san_python() { LD_PRELOAD="$WSCODEC_SAN_PRELOAD" "$WSCODEC_SAN_PYTHON" "$@"; }
