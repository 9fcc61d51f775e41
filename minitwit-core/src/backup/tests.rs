#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::{
    Email, MessageId, MessageRecord, MessageText, PasswordHash, Record, StoredUser, User, UserId,
    Username,
};

fn user(id: u64, name: &str) -> Record {
    Record::User(StoredUser {
        user: User {
            id: UserId(id),
            username: Username::parse(name).unwrap(),
            email: Email::parse(&format!("{id}@example.org")).unwrap(),
        },
        password_hash: PasswordHash::from_phc(format!("$argon2id$v=19$m=8,t=1,p=1$c2FsdA${id}")),
        session_generation: id * 1_000_003,
    })
}

fn message(id: u64, author: u64, text: &str) -> Record {
    Record::Message(MessageRecord {
        id: MessageId(id),
        author: UserId(author),
        text: MessageText::parse(text).unwrap(),
        pub_date: 1_700_000_000 + id as i64,
    })
}

fn sample() -> Vec<Record> {
    vec![
        user(1, "Zoë Ångström"),
        user(2, "O'Brien \"q\" <b>"),
        user(5, "李小龍 🦀"),
        Record::Follow {
            follower: UserId(1),
            followee: UserId(2),
        },
        Record::Follow {
            follower: UserId(2),
            followee: UserId(1),
        },
        message(3, 1, "hello\tworld\n\u{2028}✓"),
        message(4, 2, &"é".repeat(crate::MAX_MESSAGE_CHARS)),
        message(9, 5, "{\"json\": [\"inside\"]}"),
        Record::Latest(-42),
        Record::Secret {
            name: "session-key".into(),
            value: (0..=255).collect(),
        },
        Record::Secret {
            name: "store-id".into(),
            value: vec![],
        },
    ]
}

fn write(records: &[Record]) -> (Vec<u8>, BackupSummary) {
    let mut writer = BackupWriter::new(Vec::new()).unwrap();
    for record in records {
        writer.write(record).unwrap();
    }
    writer.finish().unwrap()
}

fn read(bytes: &[u8]) -> Result<Vec<Record>, BackupError> {
    BackupReader::new(bytes)?.collect()
}

#[test]
fn records_round_trip_exactly() {
    let records = sample();
    let (bytes, summary) = write(&records);
    assert_eq!(read(&bytes).unwrap(), records);
    assert_eq!(
        summary,
        BackupSummary {
            users: 3,
            follows: 2,
            messages: 3,
            records: 11,
            bytes: bytes.len() as u64,
        }
    );
    assert_eq!(verify(bytes.as_slice()).unwrap(), summary);
    let mut reader = BackupReader::new(bytes.as_slice()).unwrap();
    assert_eq!(reader.summary(), None, "not before the end");
    reader.by_ref().for_each(drop);
    assert_eq!(reader.summary(), Some(summary));
}

#[test]
fn an_empty_store_makes_a_valid_backup() {
    let (bytes, summary) = write(&[]);
    assert_eq!(summary.records, 0);
    assert!(read(&bytes).unwrap().is_empty());
}

#[test]
fn the_same_records_give_the_same_bytes() {
    assert_eq!(write(&sample()).0, write(&sample()).0);
    let mut other = sample();
    other[8] = Record::Latest(-41);
    assert_ne!(write(&sample()).0, write(&other).0);
}

#[test]
fn the_text_inside_is_json_lines_with_header_and_summary() {
    let (bytes, _) = write(&sample());
    let text_end = bytes.len() - format::FOOTER_LEN;
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(&bytes[..text_end]),
        &mut text,
    )
    .unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], r#"{"format":"minitwit-backup","version":1}"#);
    assert_eq!(lines[4], r#"{"follow":[1,2]}"#);
    assert_eq!(lines[9], r#"{"latest":-42}"#);
    assert_eq!(
        lines[12],
        r#"{"end":{"users":3,"follows":2,"messages":3,"records":11}}"#
    );
    let footer = std::str::from_utf8(&bytes[text_end..]).unwrap();
    assert!(footer.starts_with("minitwit-backup-sha256 "), "{footer}");
}

#[test]
fn every_changed_byte_is_found() {
    let (bytes, _) = write(&sample());
    for position in 0..bytes.len() {
        for flip in [0x01, 0x80] {
            let mut damaged = bytes.clone();
            damaged[position] ^= flip;
            assert!(
                read(&damaged).is_err(),
                "flipping bit {flip:#x} of byte {position} of {} went unnoticed",
                bytes.len()
            );
        }
    }
}

#[test]
fn every_truncation_and_extension_is_found() {
    let (bytes, _) = write(&sample());
    for length in 0..bytes.len() {
        assert!(
            read(&bytes[..length]).is_err(),
            "a backup cut to {length} bytes was accepted"
        );
    }
    let mut longer = bytes.clone();
    longer.push(b'\n');
    assert!(matches!(read(&longer), Err(BackupError::Damaged(_))));
}

#[test]
fn other_files_and_versions_are_refused_before_any_record() {
    assert!(matches!(
        BackupReader::new(&b"user,email\n"[..]),
        Err(BackupError::NotABackup(_))
    ));
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(
        &mut gzip,
        b"{\"format\":\"minitwit-backup\",\"version\":2}\n",
    )
    .unwrap();
    let future = gzip.finish().unwrap();
    assert!(matches!(
        BackupReader::new(future.as_slice()),
        Err(BackupError::UnsupportedVersion { found: 2 })
    ));
}

#[test]
fn records_out_of_order_are_refused_by_the_writer() {
    let mut writer = BackupWriter::new(Vec::new()).unwrap();
    writer.write(&user(2, "b")).unwrap();
    assert!(matches!(
        writer.write(&user(1, "a")),
        Err(BackupError::OutOfOrder { record: 2, .. })
    ));
    let mut writer = BackupWriter::new(Vec::new()).unwrap();
    writer.write(&message(3, 1, "m")).unwrap();
    assert!(matches!(
        writer.write(&user(1, "a")),
        Err(BackupError::OutOfOrder { .. })
    ));
}
