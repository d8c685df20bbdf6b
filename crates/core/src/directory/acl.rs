//! May the bind account delete computer objects in the WorkSpaces OU? Answered without
//! deleting anything, from the OU's security descriptor and the account's own SIDs.
//!
//! The probe (`blankslate doctor`, the adapter's `may_delete_computers`) reads the OU's
//! `nTSecurityDescriptor` with the SD-flags control asking for the DACL only (any
//! authenticated user may read that much of an OU by default) and the account's
//! `objectSid` and `tokenGroups` (every group it is in, transitively, as AD computes
//! it). This module parses the binary descriptor (MS-DTYP 2.4.6, self-relative) and
//! walks the DACL in order, as Windows does: the first ACE that allows or denies the
//! right decides it. The account may delete a computer object below the OU if either
//! the OU grants it *Delete child* (`DC`, 0x2) for the `computer` class — what `dsacls
//! ... /G "DOMAIN\user:DC;computer"` writes — or the OU hands *Delete* (`SD`, 0x10000)
//! down to computer objects by inheritance. Explicit ACEs on single computer objects
//! are not looked at; an admin who set those knows.

use std::fmt;

/// A security identifier, parsed.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Sid {
    revision: u8,
    authority: u64,
    sub_authorities: Vec<u32>,
}

impl Sid {
    /// Parses a binary SID (`objectSid`, `tokenGroups` values); returns it and its length.
    pub fn parse(bytes: &[u8]) -> Option<(Self, usize)> {
        let revision = *bytes.first()?;
        let count = usize::from(*bytes.get(1)?);
        let len = 8 + 4 * count;
        let body = bytes.get(..len)?;
        let authority = body[2..8].iter().fold(0u64, |a, b| (a << 8) | u64::from(*b));
        let sub_authorities = body[8..].chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        Some((Self { revision, authority, sub_authorities }, len))
    }

    /// Parses a whole binary SID, with nothing after it.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        match Self::parse(bytes)? {
            (sid, len) if len == bytes.len() => Some(sid),
            _ => None,
        }
    }

    /// `S-1-1-0`, Everyone.
    pub fn everyone() -> Self {
        Self { revision: 1, authority: 1, sub_authorities: vec![0] }
    }

    /// `S-1-5-11`, Authenticated Users.
    pub fn authenticated_users() -> Self {
        Self { revision: 1, authority: 5, sub_authorities: vec![11] }
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "S-{}-{}", self.revision, self.authority)?;
        for s in &self.sub_authorities {
            write!(f, "-{s}")?;
        }
        Ok(())
    }
}

/// The `computer` class's schemaIDGUID, bf967a86-0de6-11d0-a285-00aa003049e2, in the
/// byte order a descriptor stores it (the first three fields little-endian).
pub const COMPUTER_CLASS_GUID: [u8; 16] =
    [0x86, 0x7a, 0x96, 0xbf, 0xe6, 0x0d, 0xd0, 0x11, 0xa2, 0x85, 0x00, 0xaa, 0x00, 0x30, 0x49, 0xe2];

/// `ADS_RIGHT_DS_DELETE_CHILD`.
pub const DELETE_CHILD: u32 = 0x0000_0002;
/// `DELETE`.
pub const DELETE: u32 = 0x0001_0000;
/// `ADS_RIGHT_DS_DELETE_TREE`.
pub const DELETE_TREE: u32 = 0x0000_0040;
/// `GENERIC_ALL` (AD stores it mapped, but a hand-written ACE may carry it).
pub const GENERIC_ALL: u32 = 0x1000_0000;

const CONTAINER_INHERIT: u8 = 0x02;
const INHERIT_ONLY: u8 = 0x08;

/// One access-control entry of the kinds that decide access (allow and deny, plain and object).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Ace {
    /// Allow (true) or deny.
    pub allow: bool,
    /// The ACE flags (inheritance).
    pub flags: u8,
    /// The access mask.
    pub mask: u32,
    /// The object type (a class or property GUID), if present.
    pub object_type: Option<[u8; 16]>,
    /// The inherited object type (which child class inherits it), if present.
    pub inherited_object_type: Option<[u8; 16]>,
    /// Whom it is about.
    pub sid: Sid,
}

/// Why a descriptor could not be read.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("unreadable security descriptor: {0}")]
pub struct DescriptorError(&'static str);

fn u16_at(b: &[u8], at: usize) -> Result<u16, DescriptorError> {
    b.get(at..at + 2).map(|s| u16::from_le_bytes([s[0], s[1]])).ok_or(DescriptorError("truncated"))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, DescriptorError> {
    b.get(at..at + 4).map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]])).ok_or(DescriptorError("truncated"))
}

fn guid_at(b: &[u8], at: usize) -> Result<[u8; 16], DescriptorError> {
    let s = b.get(at..at + 16).ok_or(DescriptorError("truncated object ACE"))?;
    let mut g = [0u8; 16];
    g.copy_from_slice(s);
    Ok(g)
}

/// The DACL of a self-relative security descriptor, in order. A descriptor without a DACL
/// is an error here: "no DACL" means full access to everyone in Windows, which no AD
/// object has, so it more likely means the DACL was not returned (no SD-flags control).
pub fn parse_dacl(sd: &[u8]) -> Result<Vec<Ace>, DescriptorError> {
    if sd.first() != Some(&1) {
        return Err(DescriptorError("not a revision-1 descriptor"));
    }
    let control = u16_at(sd, 2)?;
    if control & 0x8000 == 0 {
        return Err(DescriptorError("not self-relative"));
    }
    if control & 0x0004 == 0 {
        return Err(DescriptorError("no DACL present"));
    }
    let at = u32_at(sd, 16)? as usize;
    if at == 0 {
        return Err(DescriptorError("no DACL present"));
    }
    let count = u16_at(sd, at + 4)?;
    let mut offset = at + 8;
    let mut aces = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let kind = *sd.get(offset).ok_or(DescriptorError("truncated ACE"))?;
        let flags = *sd.get(offset + 1).ok_or(DescriptorError("truncated ACE"))?;
        let size = usize::from(u16_at(sd, offset + 2)?);
        if size < 8 {
            return Err(DescriptorError("ACE shorter than its header"));
        }
        let ace = sd.get(offset..offset + size).ok_or(DescriptorError("ACE runs past the descriptor"))?;
        let parsed = match kind {
            0x00 | 0x01 => {
                let mask = u32_at(ace, 4)?;
                let (sid, _) = Sid::parse(&ace[8..]).ok_or(DescriptorError("bad SID in ACE"))?;
                Some(Ace { allow: kind == 0, flags, mask, object_type: None, inherited_object_type: None, sid })
            }
            0x05 | 0x06 => {
                let mask = u32_at(ace, 4)?;
                let present = u32_at(ace, 8)?;
                let mut p = 12;
                let object_type = if present & 1 != 0 {
                    p += 16;
                    Some(guid_at(ace, p - 16)?)
                } else {
                    None
                };
                let inherited_object_type = if present & 2 != 0 {
                    p += 16;
                    Some(guid_at(ace, p - 16)?)
                } else {
                    None
                };
                let (sid, _) = Sid::parse(ace.get(p..).unwrap_or(&[])).ok_or(DescriptorError("bad SID in ACE"))?;
                Some(Ace { allow: kind == 5, flags, mask, object_type, inherited_object_type, sid })
            }
            // Audit, alarm and callback ACEs do not decide access here.
            _ => None,
        };
        aces.extend(parsed);
        offset += size;
    }
    Ok(aces)
}

/// Walks `aces` in order for `right`; the first applicable ACE naming it decides.
fn decide(aces: &[Ace], token: &[Sid], right: u32, applies: impl Fn(&Ace) -> bool) -> Option<bool> {
    aces.iter()
        .filter(|a| token.contains(&a.sid) && applies(a))
        .find(|a| a.mask & (right | GENERIC_ALL) != 0)
        .map(|a| a.allow)
}

/// The probe's answer.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeleteRight {
    /// The OU grants *Delete child* for computers (the delegation README describes).
    DeleteChild,
    /// The OU hands *Delete* down to its computer objects.
    InheritedDelete,
    /// Neither: a delete would fail with insufficientAccessRights.
    Denied,
}

/// May a member of `token` (its SID, its groups, Everyone, Authenticated Users) delete a
/// computer object directly below the OU whose DACL is `aces`?
pub fn may_delete_computers(aces: &[Ace], token: &[Sid]) -> DeleteRight {
    let for_computers = |g: Option<[u8; 16]>| g.is_none() || g == Some(COMPUTER_CLASS_GUID);
    let on_ou = decide(aces, token, DELETE_CHILD, |a| a.flags & INHERIT_ONLY == 0 && for_computers(a.object_type));
    if on_ou == Some(true) {
        return DeleteRight::DeleteChild;
    }
    let inherited = decide(aces, token, DELETE | DELETE_TREE, |a| {
        a.flags & CONTAINER_INHERIT != 0 && a.object_type.is_none() && for_computers(a.inherited_object_type)
    });
    if inherited == Some(true) {
        return DeleteRight::InheritedDelete;
    }
    DeleteRight::Denied
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sid_bytes(authority: u8, subs: &[u32]) -> Vec<u8> {
        let mut b = vec![1, subs.len() as u8, 0, 0, 0, 0, 0, authority];
        for s in subs {
            b.extend_from_slice(&s.to_le_bytes());
        }
        b
    }

    /// An ACE: kind, flags, mask, optional object type, optional inherited type, SID.
    fn ace(kind: u8, flags: u8, mask: u32, ot: Option<[u8; 16]>, iot: Option<[u8; 16]>, sid: &[u8]) -> Vec<u8> {
        let mut body = mask.to_le_bytes().to_vec();
        if kind >= 5 {
            let present = u32::from(ot.is_some()) | (u32::from(iot.is_some()) << 1);
            body.extend_from_slice(&present.to_le_bytes());
            body.extend(ot.iter().flatten());
            body.extend(iot.iter().flatten());
        }
        body.extend_from_slice(sid);
        let mut out = vec![kind, flags];
        out.extend_from_slice(&((body.len() + 4) as u16).to_le_bytes());
        out.extend(body);
        out
    }

    fn descriptor(aces: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = aces.concat();
        let mut acl = vec![4, 0];
        acl.extend_from_slice(&((body.len() + 8) as u16).to_le_bytes());
        acl.extend_from_slice(&(aces.len() as u16).to_le_bytes());
        acl.extend_from_slice(&[0, 0]);
        acl.extend(body);
        let mut sd = vec![1, 0];
        sd.extend_from_slice(&(0x8004u16).to_le_bytes());
        sd.extend_from_slice(&[0; 12]);
        sd.extend_from_slice(&20u32.to_le_bytes());
        sd.extend(acl);
        sd
    }

    #[test]
    fn sids_read_and_print() {
        let b = sid_bytes(5, &[21, 1, 2, 3, 1103]);
        assert_eq!(Sid::from_bytes(&b).unwrap().to_string(), "S-1-5-21-1-2-3-1103");
        assert!(Sid::from_bytes(&b[..10]).is_none());
        assert_eq!(Sid::from_bytes(&sid_bytes(1, &[0])), Some(Sid::everyone()));
    }

    #[test]
    fn the_delegation_decides_and_a_deny_first_wins() {
        let me = sid_bytes(5, &[21, 9, 1103]);
        let other = sid_bytes(5, &[21, 9, 1104]);
        let token = [Sid::from_bytes(&me).unwrap(), Sid::everyone(), Sid::authenticated_users()];
        let user_class = [7u8; 16];
        let cases: Vec<(&str, Vec<Vec<u8>>, DeleteRight)> = vec![
            ("nothing", vec![], DeleteRight::Denied),
            ("read only", vec![ace(0, 0, 0x20094, None, None, &sid_bytes(5, &[11]))], DeleteRight::Denied),
            (
                "dsacls DC;computer",
                vec![ace(5, CONTAINER_INHERIT, DELETE_CHILD, Some(COMPUTER_CLASS_GUID), None, &me)],
                DeleteRight::DeleteChild,
            ),
            (
                "DC for users only",
                vec![ace(5, CONTAINER_INHERIT, DELETE_CHILD, Some(user_class), None, &me)],
                DeleteRight::Denied,
            ),
            ("DC for another account", vec![ace(0, 0, DELETE_CHILD, None, None, &other)], DeleteRight::Denied),
            ("full control", vec![ace(0, CONTAINER_INHERIT, 0xF01FF, None, None, &me)], DeleteRight::DeleteChild),
            (
                "inherit-only DC does not apply to the OU",
                vec![ace(0, CONTAINER_INHERIT | INHERIT_ONLY, DELETE_CHILD, None, None, &me)],
                DeleteRight::Denied,
            ),
            (
                "Delete inherited by computers",
                vec![ace(5, CONTAINER_INHERIT | INHERIT_ONLY, DELETE, None, Some(COMPUTER_CLASS_GUID), &me)],
                DeleteRight::InheritedDelete,
            ),
            (
                "Delete inherited by users only",
                vec![ace(5, CONTAINER_INHERIT | INHERIT_ONLY, DELETE, None, Some(user_class), &me)],
                DeleteRight::Denied,
            ),
            (
                "a deny before the grant",
                vec![
                    ace(6, 0, DELETE_CHILD, Some(COMPUTER_CLASS_GUID), None, &sid_bytes(1, &[0])),
                    ace(5, 0, DELETE_CHILD, Some(COMPUTER_CLASS_GUID), None, &me),
                ],
                DeleteRight::Denied,
            ),
        ];
        for (what, aces, expected) in cases {
            let dacl = parse_dacl(&descriptor(&aces)).unwrap();
            assert_eq!(dacl.len(), aces.len(), "{what}");
            assert_eq!(may_delete_computers(&dacl, &token), expected, "{what}");
        }
    }

    #[test]
    fn broken_descriptors_are_errors_not_panics() {
        let good = descriptor(&[ace(0, 0, DELETE_CHILD, None, None, &sid_bytes(1, &[0]))]);
        assert!(parse_dacl(&good).is_ok());
        for cut in 0..good.len() {
            assert!(parse_dacl(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut no_dacl = good.clone();
        no_dacl[2] = 0;
        assert_eq!(parse_dacl(&no_dacl).unwrap_err().to_string(), "unreadable security descriptor: no DACL present");
    }
}
