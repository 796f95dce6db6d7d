//! The file format: a header, then fixed-size checksummed records, oldest first.
//!
//! ```text
//! header  (12 bytes): magic "RLSAFEHD" | format version (u32, big endian)
//! record  (84 bytes): L1 number (u64 BE) | L1 hash (32) | L2 number (u64 BE) | L2 hash (32)
//!                     | CRC-32C of the 80 bytes before it (u32 BE)
//! ```
//!
//! Fixed-size records make every record's offset a function of its index: an overwrite of the
//! newest record and a truncation after the `n`-th are one system call each.

use crate::SafeHeadEntry;
use alloy_eips::BlockNumHash;
use alloy_primitives::B256;

/// The first bytes of every safe-head database file.
pub(crate) const MAGIC: [u8; 8] = *b"RLSAFEHD";
/// The format version this build reads and writes.
pub(crate) const VERSION: u32 = 1;
/// Length of the header: magic and version.
pub(crate) const HEADER_LEN: usize = MAGIC.len() + 4;
/// Length of the checksummed part of a record.
const BODY_LEN: usize = 2 * (8 + 32);
/// Length of a record: body and checksum.
pub(crate) const RECORD_LEN: usize = BODY_LEN + 4;

/// CRC-32C (Castagnoli), as most storage formats use: a torn or zeroed record fails it.
const CHECKSUM: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);

/// The header of a file in this build's format.
pub(crate) fn header() -> [u8; HEADER_LEN] {
    let mut header = [0; HEADER_LEN];
    header[..MAGIC.len()].copy_from_slice(&MAGIC);
    header[MAGIC.len()..].copy_from_slice(&VERSION.to_be_bytes());
    header
}

/// What a file's first bytes say.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Header {
    /// This build's format.
    Current,
    /// A safe-head database of another format version.
    Version(u32),
    /// Not a safe-head database.
    Foreign,
}

/// Reads the header at the start of `bytes`.
pub(crate) fn read_header(bytes: &[u8]) -> Header {
    let Some(header) = bytes.get(..HEADER_LEN) else { return Header::Foreign };
    if header[..MAGIC.len()] != MAGIC {
        return Header::Foreign;
    }
    let mut version = [0; 4];
    version.copy_from_slice(&header[MAGIC.len()..]);
    match u32::from_be_bytes(version) {
        VERSION => Header::Current,
        other => Header::Version(other),
    }
}

/// Byte offset of record `index`.
pub(crate) const fn offset(index: usize) -> u64 {
    HEADER_LEN as u64 + index as u64 * RECORD_LEN as u64
}

/// Appends the record of `entry` to `out`.
pub(crate) fn encode(entry: &SafeHeadEntry, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&entry.l1_block.number.to_be_bytes());
    out.extend_from_slice(entry.l1_block.hash.as_slice());
    out.extend_from_slice(&entry.safe_head.number.to_be_bytes());
    out.extend_from_slice(entry.safe_head.hash.as_slice());
    let checksum = CHECKSUM.checksum(&out[start..]);
    out.extend_from_slice(&checksum.to_be_bytes());
}

/// The entry of a record, or `None` when `record` is cut short or fails its checksum.
pub(crate) fn decode(record: &[u8]) -> Option<SafeHeadEntry> {
    if record.len() != RECORD_LEN {
        return None;
    }
    let (body, checksum) = record.split_at(BODY_LEN);
    let mut stored = [0; 4];
    stored.copy_from_slice(checksum);
    if CHECKSUM.checksum(body) != u32::from_be_bytes(stored) {
        return None;
    }
    let number = |at: usize| {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(&body[at..at + 8]);
        u64::from_be_bytes(bytes)
    };
    let hash = |at: usize| B256::from_slice(&body[at..at + 32]);
    Some(SafeHeadEntry {
        l1_block: BlockNumHash::new(number(0), hash(8)),
        safe_head: BlockNumHash::new(number(40), hash(48)),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn entry() -> SafeHeadEntry {
        SafeHeadEntry {
            l1_block: BlockNumHash::new(7, B256::repeat_byte(1)),
            safe_head: BlockNumHash::new(u64::MAX, B256::repeat_byte(2)),
        }
    }

    #[test]
    fn records_round_trip_and_every_flipped_bit_is_caught() {
        let mut record = Vec::new();
        encode(&entry(), &mut record);
        assert_eq!(record.len(), RECORD_LEN);
        assert_eq!(decode(&record), Some(entry()));
        for bit in 0..RECORD_LEN * 8 {
            let mut flipped = record.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(decode(&flipped), None, "bit {bit}");
        }
        assert_eq!(decode(&record[..RECORD_LEN - 1]), None, "cut short");
        assert_eq!(decode(&[0; RECORD_LEN]), None, "zeroes (a power loss) are not a record");
    }

    #[test]
    fn headers_are_told_apart() {
        assert_eq!(read_header(&header()), Header::Current);
        let mut other = header();
        other[HEADER_LEN - 1] = 9;
        assert_eq!(read_header(&other), Header::Version(9));
        assert_eq!(read_header(b"{\"json\": true}"), Header::Foreign);
        assert_eq!(read_header(&header()[..5]), Header::Foreign);
    }
}
