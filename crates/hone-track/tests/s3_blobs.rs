//! The blob store and `s3://` data reads against a real S3 server (SeaweedFS, started here on
//! loopback): content addressing, create-if-absent writes (a blob is never replaced), checksum
//! verification on every read, and whole-object reads for data files.

use std::sync::Arc;

use hone_test_support::s3::{BUCKET, SeaweedS3};
use hone_track::TrackError;
use hone_track::artifacts::{BlobStore, sha256_hex};

fn blobs(s3: &SeaweedS3, prefix: &str) -> BlobStore {
    let env: std::collections::HashMap<_, _> = s3.env().into_iter().collect();
    let store = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(&env["AWS_ENDPOINT"])
        .with_allow_http(true)
        .with_access_key_id(&env["AWS_ACCESS_KEY_ID"])
        .with_secret_access_key(&env["AWS_SECRET_ACCESS_KEY"])
        .with_region(&env["AWS_REGION"])
        .with_bucket_name(BUCKET)
        .build()
        .unwrap();
    BlobStore::from_object_store(Arc::new(store), prefix, &format!("s3://{BUCKET}/{prefix}"))
        .unwrap()
}

#[test]
fn blobs_on_s3_are_written_once_and_verified_on_read() {
    let s3 = SeaweedS3::start();
    let store = blobs(&s3, "cas");
    let (sha, size) = store.put(b"model bytes").unwrap();
    assert_eq!(
        (sha.as_str(), size),
        (sha256_hex(b"model bytes").as_str(), 11)
    );
    assert_eq!(store.get(&sha, "r1", "model.txt").unwrap(), b"model bytes");
    // Many writers of the same bytes at once: one object, every writer succeeds.
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| blobs(&s3, "cas").put(b"shared").unwrap());
        }
    });
    let shared = sha256_hex(b"shared");
    let keys = s3.keys("cas/blobs/");
    assert_eq!(
        keys.iter().filter(|k| k.ends_with(&shared)).count(),
        1,
        "{keys:?}"
    );
    // A damaged object is never served, and a later write of the right bytes does not replace
    // it behind the reader's back (create-if-absent): the damage stays visible to `hone
    // artifacts verify` instead of being papered over by whoever writes next.
    let key = keys.iter().find(|k| k.ends_with(&sha)).unwrap();
    assert_eq!(
        s3.request("PUT", &format!("/{BUCKET}/{key}"), b"tampered"),
        Some(200)
    );
    let e = store.get(&sha, "r1", "model.txt").unwrap_err();
    assert!(matches!(e, TrackError::Corrupted { .. }), "{e}");
    assert!(e.to_string().contains("model.txt"), "{e}");
    store.put(b"model bytes").unwrap();
    assert!(store.get(&sha, "r1", "model.txt").is_err());
}

#[test]
fn data_objects_are_read_whole_and_missing_ones_named() {
    let s3 = SeaweedS3::start();
    let body = b"date,close\n2020-01-01,1\n";
    assert_eq!(
        s3.request("PUT", &format!("/{BUCKET}/data/p.csv"), body),
        Some(200)
    );
    // `read_object` takes its settings from the AWS_* variables, as workers do.
    for (k, v) in s3.env() {
        // SAFETY: set before any other thread of this test reads the environment; the
        // other test here never reads it.
        unsafe { std::env::set_var(k, v) };
    }
    let got = hone_track::objects::read_object(&format!("s3://{BUCKET}/data/p.csv")).unwrap();
    assert_eq!(got, body);
    let dir = tempfile::tempdir().unwrap();
    let file = hone_track::objects::fetch_to_dir(&format!("s3://{BUCKET}/data/p.csv"), dir.path())
        .unwrap();
    assert_eq!(file.extension().unwrap(), "csv");
    assert_eq!(std::fs::read(&file).unwrap(), body);
    let e = hone_track::objects::read_object(&format!("s3://{BUCKET}/data/missing.csv"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("missing.csv") && e.contains("no such object"),
        "{e}"
    );
}
