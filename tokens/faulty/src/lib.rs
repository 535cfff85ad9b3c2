//! A PKCS#11 module that forwards every call to the module named by `FAULTY_TOKEN_MODULE` and
//! fails the Nth one (`FAULTY_TOKEN_FAIL_AT`) with `FAULTY_TOKEN_ERROR`, without forwarding it.
//! Tests only (see Cargo.toml).
//!
//! `C_GetFunctionList` hands out a PKCS#11 2.40 function list of its own whose 68 entries count
//! the call and forward it to the same entry of the real module's list. Every PKCS#11 function
//! takes at most 8 arguments, all integers or pointers, and returns a CK_RV; so one forwarder per
//! entry, taking and passing on 8 machine words, is call-compatible with each of them under the
//! x86-64 System V and AArch64 calling conventions (the words a caller did not pass are passed
//! on unread). `C_GetInterface` is not exported: cryptoki then uses `C_GetFunctionList`.

use std::ffi::{CString, c_char, c_int, c_ulong, c_void};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

type CkRv = c_ulong;

const CKR_OK: CkRv = 0;
const CKR_GENERAL_ERROR: CkRv = 0x05;
const CKR_ARGUMENTS_BAD: CkRv = 0x07;
const CKR_DEVICE_ERROR: CkRv = 0x30;
const CKR_DEVICE_REMOVED: CkRv = 0x32;
const CKR_MECHANISM_INVALID: CkRv = 0x70;
const CKR_SESSION_CLOSED: CkRv = 0xB0;

/// Entries of CK_FUNCTION_LIST (PKCS#11 2.40), C_Initialize to C_WaitForSlotEvent.
const ENTRIES: usize = 68;

/// CK_FUNCTION_LIST: a CK_VERSION, then the entries (pointers; 0 for an absent function).
#[repr(C)]
pub struct FunctionList {
    version: [u8; 2],
    entries: [usize; ENTRIES],
}

type Forward = unsafe extern "C" fn(usize, usize, usize, usize, usize, usize, usize, usize) -> CkRv;
type GetFunctionList = unsafe extern "C" fn(*mut *const FunctionList) -> CkRv;

unsafe extern "C" {
    fn dlopen(file: *const c_char, mode: c_int) -> *mut c_void;
    fn dlsym(handle: *mut c_void, name: *const c_char) -> *mut c_void;
}
const RTLD_NOW: c_int = 2;

struct Faulty {
    real: [usize; ENTRIES],
    table: FunctionList,
    fail_at: u64,
    error: CkRv,
    count_file: Option<std::path::PathBuf>,
}

static FAULTY: OnceLock<Option<Faulty>> = OnceLock::new();
static CALLS: AtomicU64 = AtomicU64::new(0);

fn load() -> Option<Faulty> {
    let module = std::env::var("FAULTY_TOKEN_MODULE").ok()?;
    let fail_at = match std::env::var("FAULTY_TOKEN_FAIL_AT") {
        Ok(n) => n.trim().parse().ok()?,
        Err(_) => 0,
    };
    let error = match std::env::var("FAULTY_TOKEN_ERROR").as_deref() {
        Err(_) | Ok("CKR_DEVICE_ERROR") => CKR_DEVICE_ERROR,
        Ok("CKR_DEVICE_REMOVED") => CKR_DEVICE_REMOVED,
        Ok("CKR_SESSION_CLOSED") => CKR_SESSION_CLOSED,
        Ok("CKR_MECHANISM_INVALID") => CKR_MECHANISM_INVALID,
        Ok(_) => return None,
    };
    let path = CString::new(module).ok()?;
    let name = CString::new("C_GetFunctionList").ok()?;
    // SAFETY: dlopen/dlsym with NUL-terminated strings that live across the calls.
    let get = unsafe {
        let lib = dlopen(path.as_ptr(), RTLD_NOW);
        if lib.is_null() {
            return None;
        }
        dlsym(lib, name.as_ptr())
    };
    if get.is_null() {
        return None;
    }
    // SAFETY: the symbol is the module's C_GetFunctionList, of this type by the standard.
    let get: GetFunctionList = unsafe { std::mem::transmute::<*mut c_void, GetFunctionList>(get) };
    let mut list: *const FunctionList = std::ptr::null();
    // SAFETY: the module writes a pointer to its function list, which lives as long as it.
    if unsafe { get(&mut list) } != CKR_OK || list.is_null() {
        return None;
    }
    // SAFETY: a 2.40 (or later, same prefix) function list has at least these entries.
    let real = unsafe { (*list).entries };
    let forwarders = forwarders();
    let mut entries = [0usize; ENTRIES];
    for (i, e) in entries.iter_mut().enumerate() {
        if real[i] != 0 {
            *e = forwarders[i];
        }
    }
    Some(Faulty {
        real,
        table: FunctionList {
            version: [2, 40],
            entries,
        },
        fail_at,
        error,
        count_file: std::env::var_os("FAULTY_TOKEN_COUNT_FILE").map(Into::into),
    })
}

fn faulty() -> Option<&'static Faulty> {
    FAULTY.get_or_init(load).as_ref()
}

/// The forwarder of entry `I`: counts the call, fails it if it is the chosen one, else passes
/// the caller's words on to the real module's entry `I`.
unsafe extern "C" fn fwd<const I: usize>(
    a: usize,
    b: usize,
    c: usize,
    d: usize,
    e: usize,
    f: usize,
    g: usize,
    h: usize,
) -> CkRv {
    let Some(s) = faulty() else {
        return CKR_GENERAL_ERROR;
    };
    let n = CALLS.fetch_add(1, Ordering::SeqCst) + 1;
    if let Some(p) = &s.count_file {
        let _ = std::fs::write(p, n.to_string());
    }
    if n == s.fail_at {
        return s.error;
    }
    // SAFETY: a non-zero entry of the real list; the forwarder exists only for those.
    let real: Forward = unsafe { std::mem::transmute::<usize, Forward>(s.real[I]) };
    // SAFETY: the caller's arguments, passed on as it passed them (see the module docs).
    unsafe { real(a, b, c, d, e, f, g, h) }
}

/// Entry `i`'s forwarder, as a pointer-sized word.
fn forwarders() -> [usize; ENTRIES] {
    [
        fwd::<0> as Forward as usize,
        fwd::<1> as Forward as usize,
        fwd::<2> as Forward as usize,
        fwd::<3> as Forward as usize,
        fwd::<4> as Forward as usize,
        fwd::<5> as Forward as usize,
        fwd::<6> as Forward as usize,
        fwd::<7> as Forward as usize,
        fwd::<8> as Forward as usize,
        fwd::<9> as Forward as usize,
        fwd::<10> as Forward as usize,
        fwd::<11> as Forward as usize,
        fwd::<12> as Forward as usize,
        fwd::<13> as Forward as usize,
        fwd::<14> as Forward as usize,
        fwd::<15> as Forward as usize,
        fwd::<16> as Forward as usize,
        fwd::<17> as Forward as usize,
        fwd::<18> as Forward as usize,
        fwd::<19> as Forward as usize,
        fwd::<20> as Forward as usize,
        fwd::<21> as Forward as usize,
        fwd::<22> as Forward as usize,
        fwd::<23> as Forward as usize,
        fwd::<24> as Forward as usize,
        fwd::<25> as Forward as usize,
        fwd::<26> as Forward as usize,
        fwd::<27> as Forward as usize,
        fwd::<28> as Forward as usize,
        fwd::<29> as Forward as usize,
        fwd::<30> as Forward as usize,
        fwd::<31> as Forward as usize,
        fwd::<32> as Forward as usize,
        fwd::<33> as Forward as usize,
        fwd::<34> as Forward as usize,
        fwd::<35> as Forward as usize,
        fwd::<36> as Forward as usize,
        fwd::<37> as Forward as usize,
        fwd::<38> as Forward as usize,
        fwd::<39> as Forward as usize,
        fwd::<40> as Forward as usize,
        fwd::<41> as Forward as usize,
        fwd::<42> as Forward as usize,
        fwd::<43> as Forward as usize,
        fwd::<44> as Forward as usize,
        fwd::<45> as Forward as usize,
        fwd::<46> as Forward as usize,
        fwd::<47> as Forward as usize,
        fwd::<48> as Forward as usize,
        fwd::<49> as Forward as usize,
        fwd::<50> as Forward as usize,
        fwd::<51> as Forward as usize,
        fwd::<52> as Forward as usize,
        fwd::<53> as Forward as usize,
        fwd::<54> as Forward as usize,
        fwd::<55> as Forward as usize,
        fwd::<56> as Forward as usize,
        fwd::<57> as Forward as usize,
        fwd::<58> as Forward as usize,
        fwd::<59> as Forward as usize,
        fwd::<60> as Forward as usize,
        fwd::<61> as Forward as usize,
        fwd::<62> as Forward as usize,
        fwd::<63> as Forward as usize,
        fwd::<64> as Forward as usize,
        fwd::<65> as Forward as usize,
        fwd::<66> as Forward as usize,
        fwd::<67> as Forward as usize,
    ]
}

/// The module's entry point: this module's own function list.
///
/// # Safety
/// `list` must be null or point to writable storage for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetFunctionList(list: *mut *const FunctionList) -> CkRv {
    if list.is_null() {
        return CKR_ARGUMENTS_BAD;
    }
    match faulty() {
        // SAFETY: `list` is non-null and writable (the caller's contract).
        Some(s) => unsafe {
            *list = &s.table;
            CKR_OK
        },
        None => CKR_GENERAL_ERROR,
    }
}
