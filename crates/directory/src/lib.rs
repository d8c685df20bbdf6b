//! The LDAP adapter of blankslate's directory clean-up.
//!
//! It finds, checks and deletes the Active Directory computer objects of WorkSpaces
//! blankslate terminated, lists the objects that look like WorkSpaces (for `blankslate
//! directory orphans`), and probes whether the bind account may delete computer objects
//! in the WorkSpaces OU without deleting anything. Whether an object may go is never
//! decided here: [`Session::delete_guarded`] searches, hands the answer to
//! `blankslate_core::directory::guard` (S5) and deletes only the DN that returns.
//!
//! Transport: LDAPS (TLS from the first byte, port 636) with the server certificate
//! verified against the system's roots or a configured CA bundle (PEM). Plain `ldap://`
//! is refused unless [`Settings::allow_plain_ldap`] asks for it by name: the simple bind
//! sends the password, which only TLS protects. Several URLs may be given; they are
//! tried in order until one answers (failover between domain controllers). The bind is
//! a simple bind with a DN or a user principal name (`svc-blankslate@corp.example`),
//! both of which AD accepts.
//!
//! Errors are typed ([`DirectoryError`]) by what an admin must do about them: bad
//! credentials (LDAP 49), unreachable, no permission (LDAP 50), more than one match,
//! certificate not trusted.

#![deny(missing_docs)]

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use blankslate_core::directory::acl::{self, DeleteRight, Sid};
use blankslate_core::directory::{
    guard, parse_generalized_time, ComputerName, FailureKind, FoundObject, Outcome, Verdict,
};
use blankslate_core::Timestamp;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchEntry};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

/// How to reach and bind to the directory.
#[derive(Clone)]
pub struct Settings {
    /// `ldaps://host[:port]` URLs, tried in order. `ldap://` only with `allow_plain_ldap`.
    pub urls: Vec<String>,
    /// The bind account: a DN or a user principal name.
    pub bind_user: String,
    /// Its password.
    pub password: String,
    /// Where computer objects are searched and deleted: the WorkSpaces OU.
    pub base_dn: String,
    /// PEM certificates to trust instead of the system's roots.
    pub ca_bundle_pem: Option<Vec<u8>>,
    /// Allow `ldap://` URLs (the password then crosses the network in the clear).
    pub allow_plain_ldap: bool,
    /// Per connection attempt and per operation.
    pub timeout: Duration,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("urls", &self.urls)
            .field("bind_user", &self.bind_user)
            .field("password", &"<hidden>")
            .field("base_dn", &self.base_dn)
            .field("ca_bundle_pem", &self.ca_bundle_pem.as_ref().map(|b| b.len()))
            .field("allow_plain_ldap", &self.allow_plain_ldap)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// What went wrong, by what an admin does about it.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The settings cannot work (a URL, the CA bundle, plain LDAP not allowed).
    #[error("directory settings: {0}")]
    Settings(String),
    /// No server answered; each URL with what happened.
    #[error("no directory server answered: {0}")]
    Unreachable(String),
    /// A server's certificate did not verify.
    #[error("{url}: the server's certificate is not trusted ({message}); configure the CA that signed it (--directory-ca-bundle)")]
    CertificateNotTrusted {
        /// The server.
        url: String,
        /// What the verifier said.
        message: String,
    },
    /// The bind was refused (LDAP invalidCredentials, 49).
    #[error("{url}: the directory refused the bind account {user:?} or its password (LDAP invalidCredentials, 49): {message}")]
    BadCredentials {
        /// The server.
        url: String,
        /// The bind account.
        user: String,
        /// The server's diagnostic.
        message: String,
    },
    /// The account may not do this (LDAP insufficientAccessRights, 50).
    #[error("{operation} {dn}: the bind account may not do this (LDAP insufficientAccessRights, 50): {message}")]
    NoPermission {
        /// search, delete ...
        operation: &'static str,
        /// On what.
        dn: String,
        /// The server's diagnostic.
        message: String,
    },
    /// A search for one computer name matched more than one object.
    #[error("{name}: {count} computer objects match under {base_dn}; none deleted")]
    TwoMatches {
        /// The name searched.
        name: String,
        /// How many matched.
        count: usize,
        /// Where.
        base_dn: String,
    },
    /// Anything else the server answered.
    #[error("{operation} {dn}: LDAP result {code}: {message}")]
    Ldap {
        /// search, delete ...
        operation: &'static str,
        /// On what.
        dn: String,
        /// The LDAP result code.
        code: u32,
        /// The server's diagnostic.
        message: String,
    },
}

impl DirectoryError {
    /// The core's failure kind, for the clean-up's retry rule.
    pub fn kind(&self) -> FailureKind {
        match self {
            Self::Unreachable(_) => FailureKind::Unreachable,
            Self::CertificateNotTrusted { .. } => FailureKind::CertificateNotTrusted,
            Self::BadCredentials { .. } => FailureKind::BadCredentials,
            Self::NoPermission { .. } => FailureKind::NoPermission,
            Self::Settings(_) | Self::TwoMatches { .. } | Self::Ldap { .. } => FailureKind::Other,
        }
    }

    /// As a clean-up outcome.
    pub fn into_outcome(self) -> Outcome {
        Outcome::Failed { kind: self.kind(), message: self.to_string() }
    }
}

/// LDAP result codes this adapter tells apart.
const INVALID_CREDENTIALS: u32 = 49;
const INSUFFICIENT_ACCESS_RIGHTS: u32 = 50;
const NO_SUCH_OBJECT: u32 = 32;

/// The directory, as configured. Cheap to keep; [`Directory::connect`] opens a session.
pub struct Directory {
    settings: Settings,
    tls: Arc<rustls::ClientConfig>,
}

impl Directory {
    /// Checks the settings: at least one URL, each `ldaps://` (or `ldap://` when allowed),
    /// a usable CA bundle when one is given, a base DN.
    pub fn new(settings: Settings) -> Result<Self, DirectoryError> {
        check_urls(&settings.urls, settings.allow_plain_ldap)?;
        if blankslate_core::directory::DirectorySettings::new(&settings.base_dn, "X").is_err() {
            return Err(DirectoryError::Settings(format!(
                "base DN {:?}: expected a DN like OU=WorkSpaces,DC=corp,DC=example",
                settings.base_dn
            )));
        }
        let tls = Arc::new(tls_config(settings.ca_bundle_pem.as_deref())?);
        Ok(Self { settings, tls })
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Connects to the first URL that answers and binds. A refused bind is final (the same
    /// directory answers the same at every controller); an unreachable server or a failed
    /// handshake moves on to the next URL.
    pub async fn connect(&self) -> Result<Session, DirectoryError> {
        let mut tried = Vec::new();
        let mut certificate: Option<DirectoryError> = None;
        for url in &self.settings.urls {
            let conn_settings =
                LdapConnSettings::new().set_conn_timeout(self.settings.timeout).set_config(self.tls.clone());
            let (conn, mut ldap) = match LdapConnAsync::with_settings(conn_settings, url).await {
                Ok(pair) => pair,
                Err(e) => {
                    if let Some(message) = certificate_problem(&e) {
                        certificate.get_or_insert(DirectoryError::CertificateNotTrusted { url: url.clone(), message });
                    }
                    tried.push(format!("{url}: {e}"));
                    continue;
                }
            };
            ldap3::drive!(conn);
            ldap.with_timeout(self.settings.timeout);
            match ldap.simple_bind(&self.settings.bind_user, &self.settings.password).await {
                Ok(r) if r.rc == 0 => {
                    return Ok(Session {
                        ldap,
                        url: url.clone(),
                        timeout: self.settings.timeout,
                        base_dn: self.settings.base_dn.clone(),
                    })
                }
                Ok(r) if r.rc == INVALID_CREDENTIALS => {
                    return Err(DirectoryError::BadCredentials {
                        url: url.clone(),
                        user: self.settings.bind_user.clone(),
                        message: r.text,
                    })
                }
                Ok(r) => {
                    return Err(DirectoryError::Ldap {
                        operation: "bind",
                        dn: self.settings.bind_user.clone(),
                        code: r.rc,
                        message: r.text,
                    })
                }
                Err(e) => {
                    if let Some(message) = certificate_problem(&e) {
                        certificate.get_or_insert(DirectoryError::CertificateNotTrusted { url: url.clone(), message });
                    }
                    tried.push(format!("{url}: {e}"));
                }
            }
        }
        Err(certificate.unwrap_or_else(|| DirectoryError::Unreachable(tried.join("; "))))
    }
}

/// The URL rule of [`Directory::new`]: at least one, each `ldaps://`, or `ldap://` when
/// plain LDAP is allowed by name. `blankslate deploy` checks its flags with it.
pub fn check_urls(urls: &[String], allow_plain_ldap: bool) -> Result<(), DirectoryError> {
    if urls.is_empty() {
        return Err(DirectoryError::Settings("no LDAP URL given (ldaps://dc1.corp.example)".into()));
    }
    for url in urls {
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("ldaps://") {
            continue;
        }
        if lower.starts_with("ldap://") {
            if allow_plain_ldap {
                continue;
            }
            return Err(DirectoryError::Settings(format!(
                "{url}: plain LDAP sends the bind password unencrypted; use ldaps:// (port 636), or allow plain LDAP by name (--allow-plain-ldap)"
            )));
        }
        return Err(DirectoryError::Settings(format!("{url}: an LDAP URL starts with ldaps:// (or ldap://)")));
    }
    Ok(())
}

/// The CA bundle rule of [`Directory::new`]: PEM, at least one certificate, each usable as
/// a trust root. `blankslate deploy` checks `--directory-ca-bundle` with it.
pub fn check_ca_bundle(pem: &[u8]) -> Result<(), DirectoryError> {
    tls_config(Some(pem)).map(|_| ())
}

/// The trust roots: the bundle's certificates only, when given; else the system's.
fn tls_config(ca_bundle: Option<&[u8]>) -> Result<rustls::ClientConfig, DirectoryError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_bundle {
        Some(pem) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
                .collect::<Result<_, _>>()
                .map_err(|e| DirectoryError::Settings(format!("CA bundle: not PEM certificates ({e})")))?;
            if certs.is_empty() {
                return Err(DirectoryError::Settings(
                    "CA bundle: no certificate in it (expected PEM, -----BEGIN CERTIFICATE-----)".into(),
                ));
            }
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| DirectoryError::Settings(format!("CA bundle: a certificate cannot be used ({e})")))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                // A system root rustls cannot parse is skipped, as browsers do.
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err(DirectoryError::Settings(
                    "no system CA certificates found; configure the CA that signed the directory's certificate (--directory-ca-bundle)".into(),
                ));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| DirectoryError::Settings(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

/// The verifier's complaint, if the failure was a certificate that did not verify.
fn certificate_problem(e: &LdapError) -> Option<String> {
    let rustls_error = match e {
        LdapError::Rustls { source } => Some(source.clone()),
        LdapError::Io { source } => source.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()).cloned(),
        _ => None,
    };
    match rustls_error? {
        rustls::Error::InvalidCertificate(why) => Some(format!("{why:?}")),
        _ => None,
    }
}

/// A bound connection.
pub struct Session {
    ldap: Ldap,
    url: String,
    timeout: Duration,
    base_dn: String,
}

/// One search result entry, read without trusting the server's encoding.
struct Entry {
    dn: String,
    text: std::collections::HashMap<String, Vec<String>>,
    binary: std::collections::HashMap<String, Vec<Vec<u8>>>,
}

impl Entry {
    fn first(&self, attr: &str) -> Option<&str> {
        self.text.iter().find(|(k, _)| k.eq_ignore_ascii_case(attr)).and_then(|(_, v)| v.first()).map(String::as_str)
    }

    /// Every value of `attr` as bytes, whether ldap3 read it as text or as binary.
    fn bytes(&self, attr: &str) -> Vec<Vec<u8>> {
        let text = self
            .text
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(attr))
            .flat_map(|(_, v)| v.iter().map(|s| s.as_bytes().to_vec()));
        let binary =
            self.binary.iter().filter(|(k, _)| k.eq_ignore_ascii_case(attr)).flat_map(|(_, v)| v.iter().cloned());
        text.chain(binary).collect()
    }
}

impl Session {
    /// The server this session is bound to.
    pub fn url(&self) -> &str {
        &self.url
    }

    async fn search(
        &mut self,
        operation: &'static str,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
        sd_flags: bool,
    ) -> Result<Vec<Entry>, DirectoryError> {
        let ldap = self.ldap.with_timeout(self.timeout);
        if sd_flags {
            // LDAP_SERVER_SD_FLAGS_OID with DACL_SECURITY_INFORMATION (4): ask for the DACL
            // only, which any reader of the object may see (the SACL needs more rights).
            ldap.with_controls(ldap3::controls::RawControl {
                ctype: "1.2.840.113556.1.4.801".into(),
                crit: true,
                val: Some(vec![0x30, 0x03, 0x02, 0x01, 0x04]),
            });
        }
        let result = ldap.search(base, scope, filter, attrs.to_vec()).await.map_err(|e| self.transport(e))?;
        let (entries, res) = (result.0, result.1);
        match res.rc {
            0 => {}
            INSUFFICIENT_ACCESS_RIGHTS => {
                return Err(DirectoryError::NoPermission { operation, dn: base.into(), message: res.text })
            }
            NO_SUCH_OBJECT => {
                return Err(DirectoryError::Ldap {
                    operation,
                    dn: base.into(),
                    code: res.rc,
                    message: format!("no such object: check the base DN ({})", res.text),
                })
            }
            code => return Err(DirectoryError::Ldap { operation, dn: base.into(), code, message: res.text }),
        }
        entries
            .into_iter()
            .map(|e| {
                std::panic::catch_unwind(AssertUnwindSafe(|| SearchEntry::construct(e)))
                    .map(|s| Entry { dn: s.dn, text: s.attrs, binary: s.bin_attrs })
                    .map_err(|_| DirectoryError::Ldap {
                        operation,
                        dn: base.into(),
                        code: 0,
                        message: "the server sent a malformed search entry".into(),
                    })
            })
            .collect()
    }

    fn transport(&self, e: LdapError) -> DirectoryError {
        DirectoryError::Unreachable(format!("{}: {e}", self.url))
    }

    fn found(entry: &Entry) -> FoundObject {
        FoundObject {
            dn: entry.dn.clone(),
            sam_account_name: entry.first("sAMAccountName").unwrap_or_default().to_string(),
            when_created: entry.first("whenCreated").and_then(parse_generalized_time),
        }
    }

    /// The computer objects under the base DN whose `sAMAccountName` is `NAME$`.
    pub async fn find(&mut self, name: &ComputerName) -> Result<Vec<FoundObject>, DirectoryError> {
        let base = self.base_dn.clone();
        let entries = self
            .search("search", &base, Scope::Subtree, &name.search_filter(), &["sAMAccountName", "whenCreated"], false)
            .await?;
        Ok(entries.iter().map(Self::found).collect())
    }

    /// The S5 verdict on `name`, for a WorkSpace terminated at `terminated_at`.
    pub async fn guard(&mut self, name: &ComputerName, terminated_at: Timestamp) -> Result<Verdict, DirectoryError> {
        let found = self.find(name).await?;
        Ok(guard(name, &self.base_dn, terminated_at, &found))
    }

    /// Deletes one object by DN. Only ever called with a DN the guard returned.
    async fn delete_dn(&mut self, dn: &str) -> Result<(), DirectoryError> {
        let res = self.ldap.with_timeout(self.timeout).delete(dn).await.map_err(|e| self.transport(e))?;
        match res.rc {
            0 => Ok(()),
            INSUFFICIENT_ACCESS_RIGHTS => {
                Err(DirectoryError::NoPermission { operation: "delete", dn: dn.into(), message: res.text })
            }
            code => Err(DirectoryError::Ldap { operation: "delete", dn: dn.into(), code, message: res.text }),
        }
    }

    /// Find, guard, delete: the clean-up of one terminated WorkSpace's computer object. An
    /// object that vanished between the search and the delete counts as nothing to delete.
    pub async fn delete_guarded(
        &mut self,
        name: &ComputerName,
        terminated_at: Timestamp,
    ) -> Result<Outcome, DirectoryError> {
        let verdict = self.guard(name, terminated_at).await?;
        match verdict {
            Verdict::Delete { dn } => match self.delete_dn(&dn).await {
                Ok(()) => Ok(Outcome::Deleted { dn }),
                Err(DirectoryError::Ldap { code: NO_SUCH_OBJECT, .. }) => Ok(Outcome::NothingToDelete),
                Err(e) => Err(e),
            },
            Verdict::NotFound => Ok(Outcome::NothingToDelete),
            Verdict::Ambiguous { count } => {
                Err(DirectoryError::TwoMatches { name: name.to_string(), count, base_dn: self.base_dn.clone() })
            }
            verdict => Ok(Outcome::Refused { verdict }),
        }
    }

    /// Deletes an orphan listed by [`Session::list_computers`], after the same guard: the
    /// object must still be the one computer of that name below the base DN and older than
    /// `listed_at` (the moment the list was read, standing in for the termination).
    pub async fn delete_orphan(
        &mut self,
        object: &FoundObject,
        listed_at: Timestamp,
    ) -> Result<Outcome, DirectoryError> {
        let name = ComputerName::new(object.computer_name())
            .map_err(|e| DirectoryError::Settings(format!("{}: {e}", object.dn)))?;
        self.delete_guarded(&name, listed_at).await
    }

    /// Every computer object under the base DN whose name starts with `prefix`.
    pub async fn list_computers(&mut self, prefix: &str) -> Result<Vec<FoundObject>, DirectoryError> {
        let prefix =
            ComputerName::new(prefix).map_err(|e| DirectoryError::Settings(format!("computer-name prefix: {e}")))?;
        let base = self.base_dn.clone();
        let filter = format!("(&(objectClass=computer)(sAMAccountName={}*))", prefix.as_str());
        let entries =
            self.search("search", &base, Scope::Subtree, &filter, &["sAMAccountName", "whenCreated"], false).await?;
        Ok(entries.iter().map(Self::found).collect())
    }

    /// May the bind account delete computer objects below the base DN? Reads the OU's DACL
    /// and the account's token (rootDSE `tokenGroups`, which AD and Samba compute for the
    /// bound connection) and evaluates them (`core::directory::acl`); deletes nothing.
    pub async fn may_delete_computers(&mut self) -> Result<DeleteRight, DirectoryError> {
        let base = self.base_dn.clone();
        let ou = self
            .search("read security descriptor", &base, Scope::Base, "(objectClass=*)", &["nTSecurityDescriptor"], true)
            .await?;
        let sd = ou.first().and_then(|e| e.bytes("nTSecurityDescriptor").into_iter().next()).ok_or_else(|| {
            DirectoryError::NoPermission {
                operation: "read security descriptor",
                dn: base.clone(),
                message: "the OU's nTSecurityDescriptor was not returned".into(),
            }
        })?;
        let dacl = acl::parse_dacl(&sd).map_err(|e| DirectoryError::Ldap {
            operation: "read security descriptor",
            dn: base.clone(),
            code: 0,
            message: e.to_string(),
        })?;
        let root = self.search("read token", "", Scope::Base, "(objectClass=*)", &["tokenGroups"], false).await?;
        let mut token: Vec<Sid> = root
            .first()
            .map(|e| e.bytes("tokenGroups"))
            .unwrap_or_default()
            .iter()
            .filter_map(|b| Sid::from_bytes(b))
            .collect();
        if token.is_empty() {
            return Err(DirectoryError::Ldap {
                operation: "read token",
                dn: "rootDSE".into(),
                code: 0,
                message: "the rootDSE returned no tokenGroups for this connection".into(),
            });
        }
        token.push(Sid::everyone());
        token.push(Sid::authenticated_users());
        Ok(acl::may_delete_computers(&dacl, &token))
    }

    /// Adds a computer object `NAME$` in `ou`: what a domain join does. blankslate never
    /// calls this; the WorkSpaces emulator and the tests do, standing in for WorkSpaces.
    pub async fn join_computer(&mut self, ou: &str, name: &ComputerName) -> Result<String, DirectoryError> {
        let dn = format!("CN={},{ou}", name.as_str());
        let sam = name.sam_account_name();
        let attrs = vec![
            ("objectClass".as_bytes(), ["computer".as_bytes()].into_iter().collect()),
            ("sAMAccountName".as_bytes(), [sam.as_bytes()].into_iter().collect()),
            // WORKSTATION_TRUST_ACCOUNT, as a joined member computer has.
            ("userAccountControl".as_bytes(), ["4096".as_bytes()].into_iter().collect()),
        ];
        let res = self.ldap.with_timeout(self.timeout).add(&dn, attrs).await.map_err(|e| self.transport(e))?;
        match res.rc {
            0 => Ok(dn),
            INSUFFICIENT_ACCESS_RIGHTS => Err(DirectoryError::NoPermission { operation: "add", dn, message: res.text }),
            code => Err(DirectoryError::Ldap { operation: "add", dn, code, message: res.text }),
        }
    }

    /// Unbinds. Dropping a session closes it too.
    pub async fn close(mut self) {
        let _ = self.ldap.unbind().await;
    }
}

/// The handlers' [`blankslate_handlers::ports::Directory`] port over LDAP: one session per
/// call, each item found, guarded and deleted in turn. A directory that cannot be reached
/// or bound to fails every item with that kind (retried with back-off by the core); two
/// matches are a final refusal (the admins are told), never a delete.
impl blankslate_handlers::ports::Directory for Directory {
    async fn delete_computers(&self, items: &[blankslate_core::directory::CleanupItem]) -> Vec<Outcome> {
        let mut session = match self.connect().await {
            Ok(session) => session,
            Err(e) => {
                tracing::warn!(error = %e, "directory clean-up: cannot reach or bind to the directory");
                return items.iter().map(|_| e.clone().into_outcome()).collect();
            }
        };
        let mut outcomes = Vec::with_capacity(items.len());
        for item in items {
            let outcome = match session.delete_guarded(&item.computer_name, item.terminated_at).await {
                Ok(outcome) => outcome,
                Err(DirectoryError::TwoMatches { count, .. }) => {
                    Outcome::Refused { verdict: Verdict::Ambiguous { count } }
                }
                Err(e) => e.into_outcome(),
            };
            outcomes.push(outcome);
        }
        session.close().await;
        outcomes
    }
}

/// `blankslate directory orphans`: the computer objects below the base DN that look like
/// WorkSpaces (`prefix`) and are the `ComputerName` of no WorkSpace that exists now
/// (`core::directory::fleet_orphans`); `Session::delete_orphan` deletes only objects
/// older than the listing.
pub async fn find_orphans<W: blankslate_handlers::ports::Workspaces>(
    workspaces: &W,
    session: &mut Session,
    prefix: &str,
) -> Result<Vec<FoundObject>, OrphanError> {
    let fleet = workspaces.describe_all().await.map_err(|e| OrphanError::Workspaces(e.to_string()))?;
    let objects = session.list_computers(prefix).await?;
    Ok(blankslate_core::directory::fleet_orphans(&objects, &fleet, prefix).into_iter().cloned().collect())
}

/// Why the orphan listing failed.
#[derive(Debug, thiserror::Error)]
pub enum OrphanError {
    /// Listing the WorkSpaces failed.
    #[error("DescribeWorkspaces: {0}")]
    Workspaces(String),
    /// The directory failed.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
}
