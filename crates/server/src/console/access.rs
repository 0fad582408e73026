//! The console's access table: every console route with the roles that may open it and
//! how a key bound to a party is held to its own objects, in the API's terms
//! ([`RouteAccess`], [`PartyOf`]). It is the union of the rules each page declares; the
//! gate refuses a route that has none.

use super::pages::PAGES;
use crate::auth::{PartyOf, Role, RouteAccess};
use std::collections::HashMap;
use std::sync::OnceLock;

use Role::*;

pub const ALL: &[Role] = &[
    Operator,
    RiskAnalyst,
    PartnerBank,
    Investor,
    Merchant,
    Borrower,
];
pub const OPS: &[Role] = &[Operator];
pub const RISK: &[Role] = &[Operator, RiskAnalyst];
/// As the API's loan routes: not merchants, who have none.
pub const LOAN_READERS: &[Role] = &[Operator, RiskAnalyst, PartnerBank, Investor, Borrower];
/// As the API's funding-partner routes.
pub const FUNDING_READERS: &[Role] = &[Operator, RiskAnalyst, PartnerBank];
/// As the API's deal routes (unbound keys; a bound investor reads its deals' reports).
pub const ABS_USERS: &[Role] = &[Operator, RiskAnalyst, Investor];

pub const fn r(
    method: &'static str,
    path: &'static str,
    roles: Option<&'static [Role]>,
    party: PartyOf,
) -> RouteAccess {
    RouteAccess {
        method,
        path,
        roles,
        party,
        every_tenant: false,
    }
}

/// Every console rule, in page order.
pub fn table() -> &'static [RouteAccess] {
    static TABLE: OnceLock<Vec<RouteAccess>> = OnceLock::new();
    TABLE.get_or_init(|| PAGES.iter().flat_map(|p| p.rules.iter().copied()).collect())
}

/// The rule of `method` on the routed pattern `path`.
pub fn rule(method: &str, path: &str) -> Option<&'static RouteAccess> {
    static INDEX: OnceLock<HashMap<(&'static str, &'static str), &'static RouteAccess>> =
        OnceLock::new();
    INDEX
        .get_or_init(|| table().iter().map(|a| ((a.method, a.path), a)).collect())
        .get(&(method, path))
        .copied()
}

/// Whether `role` (bound to a party or not) may open the page at `path` (GET).
pub fn opens(role: Role, bound: bool, path: &str) -> bool {
    rule("GET", path).is_some_and(|r| match r.roles {
        None => true,
        Some(roles) => roles.contains(&role) && !(bound && r.party == PartyOf::Unbound),
    })
}

/// The table as Markdown, for docs/console.md.
pub fn markdown() -> String {
    let mut out =
        String::from("| method | page | roles | bound keys |\n| --- | --- | --- | --- |\n");
    for a in table() {
        let roles = match a.roles {
            None => "public".to_string(),
            Some(r) if r.len() == ALL.len() => "all".to_string(),
            Some(r) => r.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(", "),
        };
        let bound = match a.roles {
            None => "any visitor",
            Some(_) => a.party.description(),
        };
        out.push_str(&format!(
            "| {} | `{}` | {} | {} |\n",
            a.method, a.path, roles, bound
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_per_route_and_the_docs_hold_the_table() {
        let mut seen = std::collections::HashSet::new();
        for a in table() {
            assert!(a.path.starts_with("/console"), "{}", a.path);
            assert!(seen.insert((a.method, a.path)), "two rules for {}", a.path);
            assert!(
                crate::auth::route_roles()
                    .iter()
                    .all(|api| api.path != a.path),
                "{} is also an API route",
                a.path
            );
        }
        let docs = include_str!("../../../../docs/console.md");
        assert!(
            docs.contains(&markdown()),
            "docs/console.md must hold the console's access table:\n{}",
            markdown()
        );
    }
}
