//! What an IndexedDB failure means for the caller: a full device (`StorageFull`, free space and retry), a duplicate
//! id, or another storage failure. Browsers report a full device two ways: the quota manager refuses the
//! transaction with a `QuotaExceededError`, or, when the disk itself fills before the quota does, the backing
//! store fails with an `UnknownError` whose message names the I/O error (Chromium's LevelDB:
//! `FILE_ERROR_NO_SPACE`; the POSIX text `No space left on device`).

use crate::error::ErrorCode;

/// The error code for an IndexedDB failure named `name` (the DOMException name) with `message`.
pub fn storage_failure_code(name: &str, message: &str) -> ErrorCode {
    match name {
        "ConstraintError" => ErrorCode::DuplicateRecord,
        "QuotaExceededError" => ErrorCode::StorageFull,
        _ if is_no_space(message) => ErrorCode::StorageFull,
        _ => ErrorCode::StorageError,
    }
}

fn is_no_space(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    lower.contains("file_error_no_space") || lower.contains("no space left")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_storage_full_whichever_way_it_is_reported() {
        assert_eq!(storage_failure_code("QuotaExceededError", "The quota has been exceeded."), ErrorCode::StorageFull);
        // The shape Chromium 156 gave with its profile on a full tmpfs (docs/RELIABILITY.md, Open): the LevelDB I/O
        // error's name inside an UnknownError's message.
        let leveldb = "IO error: 000003.log: FILE_ERROR_NO_SPACE";
        assert_eq!(storage_failure_code("UnknownError", leveldb), ErrorCode::StorageFull);
        assert_eq!(
            storage_failure_code("UnknownError", "write failed: No space left on device"),
            ErrorCode::StorageFull
        );
    }

    #[test]
    fn other_failures_keep_their_meaning() {
        assert_eq!(storage_failure_code("ConstraintError", "Key already exists"), ErrorCode::DuplicateRecord);
        assert_eq!(storage_failure_code("UnknownError", "IO error: FILE_ERROR_ACCESS_DENIED"), ErrorCode::StorageError);
        assert_eq!(
            storage_failure_code("InvalidStateError", "The database connection is closing."),
            ErrorCode::StorageError
        );
        assert_eq!(storage_failure_code("", ""), ErrorCode::StorageError);
    }
}
