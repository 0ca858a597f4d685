// Package pkcs11 keeps CA keys in a hardware security module (or SoftHSM)
// through PKCS#11. Keys are named by RFC 7512 URIs; Open returns a
// crypto.Signer whose private key never leaves the token, and Generate
// makes a new non-extractable key pair in the token.
//
// # Why cgo and crypto11
//
// A PKCS#11 module is a C shared library; something has to dlopen it and
// call through its CK_FUNCTION_LIST. This package uses
// github.com/ThalesGroup/crypto11 (over github.com/miekg/pkcs11), which
// needs cgo. crypto11 is the maintained Go library that already does what a
// signer needs: module loading and reference counting, slot and token
// selection, login, a pool of sessions for concurrent use, key lookup by
// label and id, key generation with chosen attributes, and crypto.Signer
// for ECDSA and RSA (PKCS#1 v1.5 and PSS). A cgo-free loader (dlopen through
// purego or similar) would mean writing the PKCS#11 ABI by hand: the
// structure layouts, the CK_ULONG and packing rules of each platform,
// attribute templates, mechanism parameters and session handling, none of
// which the Go toolchain would check.
//
// miekg/pkcs11 dlopens the module at run time and links no PKCS#11 library,
// so a certplane built with cgo starts on machines without any module; only
// Open and Generate fail there. The cgo code is built with
// "cgo && !nopkcs11". Without cgo, or with -tags nopkcs11, ParseURI still
// works but Open and Generate return ErrNotSupported.
//
// # URIs
//
//	pkcs11:token=certplane;object=cluster-ca?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=/etc/certplane/pin
//
// ParseURI is strict. A key URI must name a token (token=, serial= or
// slot-id=) and a key (object=, id= or both). Values are percent-decoded;
// id is raw bytes ("id=%0a%10", not smallstep's hex "id=0a10"). Attributes
// may appear once. type may be absent or "private". Path attributes:
//
//   - token, serial, slot-id: select the token. The context selects by
//     slot-id, else serial, else token label (as crypto11 can use only one)
//     and then checks that the token also has every other one given.
//   - manufacturer, model: must equal the token's CK_TOKEN_INFO fields.
//   - object, id: the key pair's CKA_LABEL and CKA_ID.
//   - library-manufacturer, library-description, library-version,
//     slot-manufacturer, slot-description and vendor x-* attributes are
//     accepted and ignored: module-path already names the library, and
//     the token attributes the slot.
//   - module-path is accepted here too, as smallstep writes it.
//   - any other name is an error.
//
// Query attributes are module-path (an absolute file name; if absent,
// $CERTPLANE_PKCS11_MODULE), pin-value and pin-source (a file, with or
// without "file:"; its content is trimmed). module-name, pin-source
// commands ("|...") and any other query attribute are errors.
//
// URI.String is the URI with "pin-value=REDACTED": use it wherever a URI is
// shown. Errors from this package never contain a PIN.
//
// # Logins and sessions
//
// PKCS#11 logs in an application, not a session: once a process is logged
// in to a token, C_Login answers CKR_USER_ALREADY_LOGGED_IN whatever the
// PIN, and crypto11 treats that as success. So:
//
//   - Contexts are cached per (module, token, PIN) and shared by every
//     Signer of the token: one login per process.
//   - When a URI names a token the process is already logged in to, with a
//     different PIN, Open refuses with ErrPIN ("logged in to the token with
//     another PIN and cannot check this one") rather than accept a PIN that
//     was never checked. After Close (or in a new process) the PIN is
//     checked by the token again. Code that uses crypto11 on the same token
//     outside this package is not seen by this check.
//   - Only crypto11 calls C_Initialize and C_Finalize. The package resolves
//     symbolic links in module-path so that one library is never loaded
//     under two names (which would initialize it twice and fail with
//     CKR_CRYPTOKI_ALREADY_INITIALIZED). To read token information and look
//     for existing keys, it loads the already initialized module a second
//     time (the same copy) and never initializes it.
//
// Each context uses at most 17 sessions (one holding the login and 16 in
// crypto11's pool; fewer if the token allows fewer), so up to 16 signatures
// per token run at once; more wait up to 30 s for a session. Signing takes
// no lock of this package. After a token error (CKR_SESSION_HANDLE_INVALID,
// CKR_SESSION_CLOSED, CKR_DEVICE_REMOVED, CKR_DEVICE_ERROR,
// CKR_TOKEN_NOT_PRESENT, CKR_USER_NOT_LOGGED_IN, stale object handles, ...)
// the context is closed and opened again once (one goroutine re-opens, the
// others take the new context), the key is found again (it must have the
// same public key) and the operation is retried once.
//
// Opening contexts and Generate (key generation included) are serialized
// within the process; signing is not blocked by them. Two processes
// generating the same label at once are not prevented from both
// succeeding.
package pkcs11
