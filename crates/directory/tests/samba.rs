//! The LDAP adapter against a real Active Directory domain controller: Samba 4.17, as
//! `scripts/samba start` provisions it on 127.0.0.1 (`scripts/test` starts it; by hand:
//! `bash scripts/samba start && source .emulators/samba.env`).
//!
//! Every error class is met for real: a wrong password (LDAP 49), a closed port, an
//! account without rights (LDAP 50), a CA bundle that did not sign the server's
//! certificate, and two objects with one `sAMAccountName`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use blankslate_core::directory::acl::DeleteRight;
use blankslate_core::directory::{ComputerName, Outcome, Verdict};
use blankslate_core::Timestamp;
use blankslate_directory::{Directory, DirectoryError, Settings};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: start Samba with `bash scripts/samba start && source .emulators/samba.env` (scripts/test does)")
    })
}

fn now() -> Timestamp {
    Timestamp::from_millis(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64)
}

/// A computer name no other test (nor a run minutes earlier against the same server) uses.
fn unique_name(tag: &str) -> ComputerName {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let stamp = (now().as_millis() / 1000) % 10_000;
    ComputerName::new(format!("WSAMZN-{tag}{stamp:04}{n:03}")).unwrap()
}

fn settings(user: &str, password: &str) -> Settings {
    Settings {
        urls: vec![env("BLANKSLATE_SAMBA_LDAPS_URL")],
        bind_user: user.into(),
        password: password.into(),
        base_dn: env("BLANKSLATE_SAMBA_OU"),
        ca_bundle_pem: Some(std::fs::read(env("BLANKSLATE_SAMBA_CA")).expect("Samba's test CA")),
        allow_plain_ldap: false,
        timeout: Duration::from_secs(5),
    }
}

fn admin() -> Settings {
    settings(&env("BLANKSLATE_SAMBA_ADMIN_DN"), &env("BLANKSLATE_SAMBA_ADMIN_PASSWORD"))
}

fn cleaner() -> Settings {
    settings(&env("BLANKSLATE_SAMBA_CLEANER_DN"), &env("BLANKSLATE_SAMBA_CLEANER_PASSWORD"))
}

fn reader() -> Settings {
    settings(&env("BLANKSLATE_SAMBA_READER_DN"), &env("BLANKSLATE_SAMBA_READER_PASSWORD"))
}

async fn join(name: &ComputerName) -> String {
    let mut s = Directory::new(admin()).unwrap().connect().await.unwrap();
    s.join_computer(&env("BLANKSLATE_SAMBA_OU"), name).await.unwrap()
}

#[tokio::test]
async fn find_guard_and_delete_exactly_the_terminated_workspaces_object() {
    let name = unique_name("A");
    let dn = join(&name).await;
    let keep = unique_name("B");
    let keep_dn = join(&keep).await;
    let mut s = Directory::new(cleaner()).unwrap().connect().await.unwrap();

    let found = s.find(&name).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].dn.eq_ignore_ascii_case(&dn), "{found:?}");
    assert_eq!(found[0].sam_account_name, name.sam_account_name());
    let created = found[0].when_created.expect("Samba returns whenCreated");

    // A WorkSpace terminated before this object was created is not its owner (S5).
    let before = created - Duration::from_secs(60);
    assert!(matches!(s.guard(&name, before).await.unwrap(), Verdict::TooNew { .. }));
    assert!(matches!(
        s.delete_guarded(&name, before).await.unwrap(),
        Outcome::Refused { verdict: Verdict::TooNew { .. } }
    ));
    assert_eq!(s.find(&name).await.unwrap().len(), 1, "a refused object stays");

    let after = now() + Duration::from_secs(5);
    assert_eq!(s.guard(&name, after).await.unwrap(), Verdict::Delete { dn: found[0].dn.clone() });
    assert_eq!(s.delete_guarded(&name, after).await.unwrap(), Outcome::Deleted { dn: found[0].dn.clone() });
    assert!(s.find(&name).await.unwrap().is_empty());
    assert_eq!(s.delete_guarded(&name, after).await.unwrap(), Outcome::NothingToDelete, "a retry finds nothing to do");

    // The other computer was not touched.
    let other = s.find(&keep).await.unwrap();
    assert_eq!(other.len(), 1);
    assert!(other[0].dn.eq_ignore_ascii_case(&keep_dn));
}

#[tokio::test]
async fn an_object_outside_the_base_dn_is_never_found_nor_deleted() {
    // The same name in CN=Computers (the domain's default container) is outside the OU.
    let name = unique_name("C");
    let mut adm = Directory::new(admin()).unwrap().connect().await.unwrap();
    let base = env("BLANKSLATE_SAMBA_BASE_DN");
    adm.join_computer(&format!("CN=Computers,{base}"), &name).await.unwrap();
    let mut s = Directory::new(cleaner()).unwrap().connect().await.unwrap();
    assert_eq!(s.delete_guarded(&name, now() + Duration::from_secs(5)).await.unwrap(), Outcome::NothingToDelete);
    let mut wide = Directory::new(Settings { base_dn: base.clone(), ..admin() }).unwrap().connect().await.unwrap();
    assert_eq!(wide.find(&name).await.unwrap().len(), 1, "still there, under CN=Computers");
}

#[tokio::test]
async fn the_permission_probe_reads_the_delegation_and_deletes_nothing() {
    let name = unique_name("D");
    join(&name).await;
    let mut s = Directory::new(cleaner()).unwrap().connect().await.unwrap();
    assert_eq!(
        s.may_delete_computers().await.unwrap(),
        DeleteRight::DeleteChild,
        "svc-blankslate: DC;computer on the OU"
    );
    let mut a = Directory::new(admin()).unwrap().connect().await.unwrap();
    assert_ne!(a.may_delete_computers().await.unwrap(), DeleteRight::Denied, "the domain administrator");
    let mut r = Directory::new(reader()).unwrap().connect().await.unwrap();
    assert_eq!(r.may_delete_computers().await.unwrap(), DeleteRight::Denied, "an ordinary user");
    assert_eq!(a.find(&name).await.unwrap().len(), 1, "the probe deleted nothing");
}

#[tokio::test]
async fn no_permission_is_its_own_error() {
    let name = unique_name("E");
    join(&name).await;
    let mut r = Directory::new(reader()).unwrap().connect().await.unwrap();
    let err = r.delete_guarded(&name, now() + Duration::from_secs(5)).await.unwrap_err();
    assert!(matches!(err, DirectoryError::NoPermission { operation: "delete", .. }), "{err}");
    assert_eq!(err.kind(), blankslate_core::directory::FailureKind::NoPermission);
    assert!(err.to_string().contains("insufficientAccessRights, 50"), "{err}");
    let mut a = Directory::new(admin()).unwrap().connect().await.unwrap();
    assert_eq!(a.find(&name).await.unwrap().len(), 1);
}

#[tokio::test]
async fn bad_credentials_are_named() {
    let err =
        Directory::new(settings(&env("BLANKSLATE_SAMBA_CLEANER_DN"), "wrong")).unwrap().connect().await.err().unwrap();
    assert!(matches!(err, DirectoryError::BadCredentials { .. }), "{err}");
    assert!(err.to_string().contains("invalidCredentials, 49"), "{err}");
}

fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("ldaps://127.0.0.1:{port}")
}

#[tokio::test]
async fn unreachable_servers_are_skipped_and_named() {
    let closed = closed_port_url();
    let err =
        Directory::new(Settings { urls: vec![closed.clone()], ..cleaner() }).unwrap().connect().await.err().unwrap();
    assert!(matches!(err, DirectoryError::Unreachable(_)), "{err}");
    assert!(err.to_string().contains(&closed), "{err}");
    // Failover: the first controller is down, the second answers.
    let good = env("BLANKSLATE_SAMBA_LDAPS_URL");
    let s =
        Directory::new(Settings { urls: vec![closed, good.clone()], ..cleaner() }).unwrap().connect().await.unwrap();
    assert_eq!(s.url(), good);
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_not_trusted() {
    let other = std::fs::read(env("BLANKSLATE_SAMBA_OTHER_CA")).unwrap();
    let err =
        Directory::new(Settings { ca_bundle_pem: Some(other), ..cleaner() }).unwrap().connect().await.err().unwrap();
    assert!(matches!(err, DirectoryError::CertificateNotTrusted { .. }), "{err}");
    assert!(err.to_string().contains("--directory-ca-bundle"), "{err}");
    // The system's roots do not know the test CA either.
    if let Ok(d) = Directory::new(Settings { ca_bundle_pem: None, ..cleaner() }) {
        let err = d.connect().await.err().unwrap();
        assert!(matches!(err, DirectoryError::CertificateNotTrusted { .. }), "{err}");
    }
    let err =
        Directory::new(Settings { ca_bundle_pem: Some(b"not a certificate".to_vec()), ..cleaner() }).err().unwrap();
    assert!(err.to_string().contains("CA bundle"), "{err}");
}

#[tokio::test]
async fn plain_ldap_only_when_asked_for_by_name() {
    let plain = env("BLANKSLATE_SAMBA_URL");
    let err = Directory::new(Settings { urls: vec![plain.clone()], ..cleaner() }).err().unwrap();
    assert!(err.to_string().contains("--allow-plain-ldap"), "{err}");
    let s =
        Directory::new(Settings { urls: vec![plain], allow_plain_ldap: true, ..cleaner() }).unwrap().connect().await;
    assert!(s.is_ok(), "{:?}", s.err());
    let err = Directory::new(Settings { urls: vec!["http://dc1".into()], ..cleaner() }).err().unwrap();
    assert!(err.to_string().contains("ldaps://"), "{err}");
}

/// AD enforces a unique `sAMAccountName` only on the domain controller that writes it:
/// two controllers can accept the same name before they replicate (a replication
/// collision), and both objects then exist until an admin resolves it. Samba's SAM layer
/// refuses the duplicate over LDAP just as a single DC does, so the test writes it the way
/// replication does, below that layer: straight into the domain partition's database.
#[tokio::test]
async fn two_objects_with_one_name_are_never_deleted() {
    let name = unique_name("F");
    join(&name).await;
    let twin = unique_name("G");
    let twin_dn = join(&twin).await;
    let partition = format!("{}/private/sam.ldb.d/DC=BLANKSLATE,DC=TEST.ldb", env("BLANKSLATE_SAMBA_DIR"));
    let ldif = format!(
        "dn: {twin_dn}\nchangetype: modify\nreplace: sAMAccountName\nsAMAccountName: {}\n",
        name.sam_account_name()
    );
    let path = std::env::temp_dir().join(format!("blankslate-dup-{}.ldif", std::process::id()));
    std::fs::write(&path, ldif).unwrap();
    let out = std::process::Command::new("ldbmodify")
        .arg("-H")
        .arg(&partition)
        .arg(&path)
        .output()
        .expect("ldbmodify (ldb-tools)");
    assert!(out.status.success(), "ldbmodify: {}", String::from_utf8_lossy(&out.stderr));

    let mut s = Directory::new(cleaner()).unwrap().connect().await.unwrap();
    assert_eq!(s.find(&name).await.unwrap().len(), 2);
    let err = s.delete_guarded(&name, now() + Duration::from_secs(5)).await.unwrap_err();
    assert!(matches!(err, DirectoryError::TwoMatches { count: 2, .. }), "{err}");
    assert_eq!(s.find(&name).await.unwrap().len(), 2, "neither was deleted");
}

#[tokio::test]
async fn workspaces_looking_computers_are_listed_by_prefix() {
    let name = unique_name("H");
    join(&name).await;
    let mut s = Directory::new(cleaner()).unwrap().connect().await.unwrap();
    let listed = s.list_computers("WSAMZN-").await.unwrap();
    assert!(listed.iter().any(|o| o.computer_name() == name.as_str()), "{listed:?}");
    assert!(listed.iter().all(|o| o.sam_account_name.to_ascii_uppercase().starts_with("WSAMZN-")));
    let err = s.list_computers("WS*").await.unwrap_err();
    assert!(err.to_string().contains("prefix"), "{err}");
}
