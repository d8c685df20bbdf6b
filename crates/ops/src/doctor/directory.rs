//! The directory checks (issue 14): the clean-up function binds, its account may delete
//! computer objects in the WorkSpaces OU, and how many orphaned objects there are.
//!
//! The directory answers only inside the customer's VPC, so the doctor asks the deployed
//! clean-up function to look (`core::directory::function::Request::Check`): the same
//! subnets, security group, secret and CA bundle the clean-ups use, and nothing is
//! deleted. The delete right is read from the OU's DACL against the account's token
//! (`core::directory::acl`), the way Windows evaluates it, without trying a delete.

use blankslate_core::directory::acl::DeleteRight;
use blankslate_core::directory::function::{Checked, Failure};
use blankslate_core::directory::{fleet_orphans, DirectorySettings, FailureKind};
use blankslate_core::observe::WorkspaceDescription;

use super::Check;

/// What the doctor read for the directory checks.
pub struct DirectoryObservation<'a> {
    /// The reconciler's directory settings; `None` when clean-up is off.
    pub settings: Option<&'a DirectorySettings>,
    /// The clean-up function's name (stack output), or why it is not known.
    pub function: Result<String, String>,
    /// Its answer to the check, or why it gave none.
    pub checked: Result<Checked, String>,
    /// The fleet, for the orphan count, or why it could not be read.
    pub fleet: Result<Vec<WorkspaceDescription>, String>,
}

/// What to do about a failure the directory reported.
fn fix_for(failure: &Failure, function: &str, base_dn: &str) -> String {
    match failure.kind {
        FailureKind::Unreachable => format!(
            "let {function}'s security group reach the domain controllers on TCP 636 (and their security group \
             accept it), check the LDAP URLs, and give its subnets a route to Secrets Manager (an interface \
             endpoint, or NAT)"
        ),
        FailureKind::CertificateNotTrusted => {
            "deploy with --directory-ca-bundle FILE: the PEM of the CA that signed the controllers' LDAPS certificates"
                .into()
        }
        FailureKind::BadCredentials => {
            "put the bind account's current user and password in the secret (aws secretsmanager put-secret-value)"
                .into()
        }
        FailureKind::NoPermission => {
            format!("grant the bind account read access to {base_dn} (README: Active Directory)")
        }
        FailureKind::Other => format!("read {function}'s log; the directory said: {}", failure.message),
    }
}

/// The three directory checks (one, saying it is off, when clean-up is not configured).
pub fn directory_checks(obs: &DirectoryObservation<'_>) -> Vec<Check> {
    let Some(settings) = obs.settings else {
        return vec![Check::pass(
            "directory clean-up",
            "off: each rebuild leaves its WorkSpace's computer object in the directory (README: Active Directory, \
             to turn it on)",
        )];
    };
    let base_dn = settings.base_dn.as_str();
    let names = ["directory bind", "directory delete right", "directory orphans"];
    let function = match &obs.function {
        Ok(f) => f.as_str(),
        Err(why) => return names.iter().map(|n| Check::unknown(*n, why)).collect(),
    };
    let checked = match &obs.checked {
        Ok(c) => c,
        Err(why) => {
            let mut checks = vec![Check::fail(
                names[0],
                format!("the clean-up function {function} gave no answer: {why}"),
                format!("read {function}'s log in CloudWatch Logs; redeploy if it is missing"),
            )];
            checks.extend(names[1..].iter().map(|n| Check::unknown(*n, &format!("{function} gave no answer"))));
            return checks;
        }
    };
    let url = match &checked.bound {
        Ok(url) => url,
        Err(failure) => {
            let mut checks = vec![Check::fail(
                names[0],
                format!("{function}: {} ({})", failure.message, failure.kind.name()),
                fix_for(failure, function, base_dn),
            )];
            checks.extend(names[1..].iter().map(|n| Check::unknown(*n, "no bind")));
            return checks;
        }
    };
    let mut checks = vec![Check::pass(names[0], format!("{function} bound to {url} with the secret's account"))];
    checks.push(match &checked.may_delete {
        Some(Ok(DeleteRight::DeleteChild)) => {
            Check::pass(names[1], format!("the account may delete computer objects in {base_dn} (Delete child, computer)"))
        }
        Some(Ok(DeleteRight::InheritedDelete)) => {
            Check::pass(names[1], format!("the account may delete computer objects in {base_dn} (inherited Delete)"))
        }
        Some(Ok(DeleteRight::Denied)) => Check::fail(
            names[1],
            format!("the OU's permissions do not let the bind account delete computer objects in {base_dn}: every clean-up would fail"),
            format!("dsacls \"{base_dn}\" /I:T /G \"DOMAIN\\account:DC;computer\" (README: Active Directory)"),
        ),
        Some(Err(failure)) => Check::warn(
            names[1],
            format!("could not read the OU's permissions: {}", failure.message),
            fix_for(failure, function, base_dn),
        ),
        None => Check::unknown(names[1], "not reported"),
    });
    checks.push(match (&checked.computers, &obs.fleet) {
        (Some(Ok(objects)), Ok(fleet)) => {
            let orphans = fleet_orphans(objects, fleet, &settings.prefix);
            if orphans.is_empty() {
                Check::pass(
                    names[2],
                    format!("none: each of the {} {}* computer objects is an existing WorkSpace's", objects.len(), settings.prefix),
                )
            } else {
                let sample: Vec<&str> = orphans.iter().take(5).map(|o| o.computer_name()).collect();
                Check::warn(
                    names[2],
                    format!(
                        "{} computer object(s) in {base_dn} belong to no existing WorkSpace (e.g. {})",
                        orphans.len(),
                        sample.join(", ")
                    ),
                    "blankslate directory orphans --ldap-url ... --directory-base-dn ... --bind-user ... (add --delete to \
                     remove them; run it where the directory answers)",
                )
            }
        }
        (Some(Err(failure)), _) => Check::warn(
            names[2],
            format!("could not list the computer objects: {}", failure.message),
            fix_for(failure, function, base_dn),
        ),
        (None, _) => Check::unknown(names[2], "not reported"),
        (_, Err(why)) => Check::unknown(names[2], why),
    });
    checks
}

#[cfg(test)]
mod tests {
    use blankslate_core::directory::{ComputerName, FoundObject};
    use blankslate_core::ids::{BundleId, DirectoryId, UserName, WorkspaceId};
    use blankslate_core::observe::WorkspaceState;
    use blankslate_core::spec::WorkspaceSpec;
    use blankslate_core::Timestamp;

    use super::super::Verdict;
    use super::*;

    fn object(name: &str) -> FoundObject {
        FoundObject {
            dn: format!("CN={name},OU=WorkSpaces,DC=corp,DC=example"),
            sam_account_name: format!("{name}$"),
            when_created: Some(Timestamp::from_millis(1)),
        }
    }

    fn desktop(name: &str) -> WorkspaceDescription {
        let spec = WorkspaceSpec::new(
            DirectoryId::new("d-1234567890").unwrap(),
            UserName::new("alice").unwrap(),
            BundleId::new("wsb-1234567890").unwrap(),
        );
        WorkspaceDescription {
            id: WorkspaceId::new("ws-abc123def").unwrap(),
            state: WorkspaceState::Available,
            spec,
            computer_name: Some(ComputerName::new(name).unwrap()),
        }
    }

    fn verdicts(checks: &[Check]) -> Vec<(String, Verdict)> {
        checks.iter().map(|c| (c.name.clone(), c.verdict)).collect()
    }

    #[test]
    fn directory_verdicts() {
        let settings = DirectorySettings::new("OU=WorkSpaces,DC=corp,DC=example", "WSAMZN-").unwrap();
        let healthy = Checked {
            bound: Ok("ldaps://dc1.corp.example".into()),
            may_delete: Some(Ok(DeleteRight::DeleteChild)),
            computers: Some(Ok(vec![object("WSAMZN-AAAA1111"), object("WSAMZN-BBBB2222"), object("LAB-PC1")])),
        };
        let obs = |checked: Result<Checked, String>| DirectoryObservation {
            settings: Some(&settings),
            function: Ok("bs-Workspace_Directory_Cleanup".into()),
            checked,
            fleet: Ok(vec![desktop("WSAMZN-AAAA1111")]),
        };
        let checks = directory_checks(&obs(Ok(healthy.clone())));
        assert_eq!(
            verdicts(&checks),
            [
                ("directory bind", Verdict::Pass),
                ("directory delete right", Verdict::Pass),
                ("directory orphans", Verdict::Warn)
            ]
            .map(|(n, v)| (n.to_owned(), v))
        );
        assert!(
            checks[2].found.starts_with("1 computer object(s)") && checks[2].found.contains("WSAMZN-BBBB2222"),
            "{:?}",
            checks[2]
        );

        let denied = Checked { may_delete: Some(Ok(DeleteRight::Denied)), ..healthy.clone() };
        let checks = directory_checks(&obs(Ok(denied)));
        assert_eq!(checks[1].verdict, Verdict::Fail);
        assert!(checks[1].fix.as_deref().unwrap().starts_with("dsacls \"OU=WorkSpaces,DC=corp,DC=example\""));

        let refused = Checked {
            bound: Err(Failure { kind: FailureKind::BadCredentials, message: "invalidCredentials".into() }),
            may_delete: None,
            computers: None,
        };
        let checks = directory_checks(&obs(Ok(refused)));
        assert_eq!(
            verdicts(&checks).iter().map(|(_, v)| *v).collect::<Vec<_>>(),
            [Verdict::Fail, Verdict::Warn, Verdict::Warn]
        );
        assert!(checks[0].fix.as_deref().unwrap().contains("put-secret-value"));

        let checks = directory_checks(&obs(Err("Invoke: ResourceNotFoundException".into())));
        assert_eq!(checks[0].verdict, Verdict::Fail);
        assert!(checks[0].found.contains("ResourceNotFoundException"));

        let off = DirectoryObservation { settings: None, ..obs(Ok(healthy)) };
        let checks = directory_checks(&off);
        assert_eq!(verdicts(&checks), [("directory clean-up".to_owned(), Verdict::Pass)]);
    }
}
