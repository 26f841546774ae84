//! Incremental syncs against the in-memory server: deltas lead to the right puts, deletes, follow-ups and
//! evictions; a day later the booking window has moved; offline-created rows stay until uploaded; and after any
//! series of server changes and clock moves the device holds exactly what `Profile::scope` says, with the
//! server's current values.
#![cfg(not(target_arch = "wasm32"))]

mod sync_support;

use proptest::prelude::*;
use serde_json::{json, Value};
use sync_support::*;
use xrm_offline::sync::{FollowUpReason, LocalRows, Page};

fn synced(page_size: u32) -> (TestServer, xrm_offline::profile::Profile, Host) {
    let mut server = TestServer::new();
    seed(&mut server);
    let profile = default_profile(&server.schema);
    let mut host = Host::new(&profile, &server.schema, page_size);
    assert!(host.first_sync(&mut server, usize::MAX));
    (server, profile, host)
}

/// The device holds exactly the profile's scope over the server's rows, each with the server's current values.
fn assert_in_step(server: &TestServer, profile: &xrm_offline::profile::Profile, host: &Host) {
    assert_eq!(host.snapshot(), expected_scope(server, profile, server.now_ms));
    for (t, ids) in host.snapshot() {
        for id in ids {
            assert_eq!(host.local.get(&t, &id), server.row(&t, &id), "{t} {id} is stale");
        }
    }
}

fn in_scope_booking(server: &TestServer, host: &Host) -> String {
    host.local
        .ids("bookableresourcebooking")
        .into_iter()
        .find(|id| server.row("bookableresourcebooking", id).is_some())
        .unwrap()
}

#[test]
fn a_delta_puts_deletes_follows_relationships_and_evicts() {
    let (mut server, profile, mut host) = synced(50);
    let ctx = ctx_at(NOW_MS);
    // A work order no booking in scope points at, and its lines.
    let outside = (1..=30).map(|w| gid(9, w)).find(|w| !host.has("msdyn_workorder", w)).expect("an out-of-scope WO");
    assert!(!host.has("msdyn_workorderproduct", &gid(10, u32::from_str_radix(&outside[24..], 16).unwrap() * 10 + 1)));
    // Create: a booking of mine, today, on that work order.
    let new_booking = gid(13, 1000);
    server.upsert(
        "bookableresourcebooking",
        &new_booking,
        json!({"name": "new", "starttime": iso(NOW_MS + 3_600_000),
        "endtime": iso(NOW_MS + 7_200_000), "_resource_value": ["bookableresource", gid(2, 1)],
        "_msdyn_workorder_value": ["msdyn_workorder", outside.clone()]}),
    );
    // Update: an in-scope booking handed to someone else.
    let handed = in_scope_booking(&server, &host);
    server.modify("bookableresourcebooking", &handed, json!({"_resource_value": gid(2, 2)}));
    // Delete: an in-scope work order product.
    let line = host.local.ids("msdyn_workorderproduct")[0].clone();
    server.delete("msdyn_workorderproduct", &line);
    // Update an in-scope contact; update an out-of-scope account.
    let contact = host.local.ids("contact")[0].clone();
    server.modify("contact", &contact, json!({"lastname": "Renamed"}));
    let far_account = (1..=15).map(|a| gid(6, a)).find(|a| !host.has("account", a));
    if let Some(a) = &far_account {
        server.modify("account", a, json!({"name": "Still not mine"}));
    }

    // Look at the first decisions: the booking delta asks for the changed rows by id.
    let def = host.plan.schema().table("bookableresourcebooking").unwrap().clone();
    let link = host.checkpoints["bookableresourcebooking"].delta_link().unwrap().to_string();
    let (_, body) = server.handle(&xrm_offline::sync::track_changes_request(
        &def,
        &xrm_offline::sync::Cursor::Link { url: link.clone() },
        50,
    ));
    let page: Page = xrm_offline::sync::read_page(&body, &xrm_offline::sync::Cursor::Start).unwrap();
    let changes = host.plan.apply_delta(&host.local, &ctx, "bookableresourcebooking", &page).unwrap();
    assert!(changes.puts.is_empty() && changes.deletes.is_empty());
    assert_eq!(changes.follow_ups.len(), 1);
    assert_eq!(changes.follow_ups[0].reason, FollowUpReason::Changed);
    let mut ids = changes.follow_ups[0].ids.clone();
    ids.sort();
    let mut want = vec![new_booking.clone(), handed.clone()];
    want.sort();
    assert_eq!(ids, want);
    // Fetched, the new booking is put and asks for its work order (missing locally); the handed one is put
    // (fresh values) and left to the eviction pass.
    let rows = host.read_all(&mut server, &changes.follow_ups[0].query);
    let applied = host.plan.apply(&host.local, &ctx, "bookableresourcebooking", &rows, &[]).unwrap();
    assert_eq!(applied.puts.len(), 2);
    let parents: Vec<_> = applied.follow_ups.iter().filter(|f| f.reason == FollowUpReason::Parent).collect();
    assert_eq!(parents.len(), 1);
    assert_eq!(parents[0].query.table, "msdyn_workorder");
    assert_eq!(parents[0].ids, vec![outside.clone()]);
    // Once the work order is stored, it has entered the scope: its lines and children are fetched with `in`.
    host.local.apply(&applied);
    let wo_rows = host.read_all(&mut server, &parents[0].query);
    let wo = host.plan.apply(&host.local, &ctx, "msdyn_workorder", &wo_rows, &[]).unwrap();
    let children: Vec<&str> =
        wo.follow_ups.iter().filter(|f| f.reason == FollowUpReason::Children).map(|f| f.query.table.as_str()).collect();
    assert_eq!(children, vec!["msdyn_workorderproduct", "msdyn_workorderservice", "msdyn_workorderservicetask"]);
    let lines = wo.follow_ups.iter().find(|f| f.query.table == "msdyn_workorderproduct").unwrap();
    assert!(lines.query.fetchxml.contains("<condition attribute=\"msdyn_workorder\" operator=\"in\">"));

    // The whole sync, from the same state.
    host.incremental_sync(&mut server, &ctx);
    assert!(host.has("bookableresourcebooking", &new_booking));
    assert!(host.has("msdyn_workorder", &outside));
    assert!(!host.has("bookableresourcebooking", &handed), "the handed-over booking is evicted");
    assert!(!host.has("msdyn_workorderproduct", &line), "the deleted line is deleted");
    if let Some(c) = host.local.get("contact", &contact) {
        assert_eq!(c["lastname"], "Renamed");
    }
    if let Some(a) = far_account {
        assert!(!host.has("account", &a), "an out-of-scope change is not stored");
    }
    assert_in_step(&server, &profile, &host);
}

#[test]
fn a_day_later_the_booking_window_has_moved() {
    let mut server = TestServer::new();
    seed(&mut server);
    // Mine: one this morning (leaves tomorrow), one in eight days (enters tomorrow, unmodified).
    for (n, day) in [(3000, 0), (3001, 8)] {
        let start = NOW_MS + day * DAY_MS - 3_600_000;
        server.upsert(
            "bookableresourcebooking",
            &gid(13, n),
            json!({"name": "edge", "starttime": iso(start),
            "endtime": iso(start + 1_800_000), "_resource_value": ["bookableresource", gid(2, 1)],
            "_msdyn_workorder_value": ["msdyn_workorder", gid(9, n - 2990)]}),
        );
    }
    let profile = default_profile(&server.schema);
    let mut host = Host::new(&profile, &server.schema, 50);
    assert!(host.first_sync(&mut server, usize::MAX));
    assert!(host.has("bookableresourcebooking", &gid(13, 3000)));
    assert!(!host.has("bookableresourcebooking", &gid(13, 3001)));
    let before: Vec<String> = host.local.ids("bookableresourcebooking");
    server.now_ms = NOW_MS + DAY_MS;
    let ctx = ctx_at(server.now_ms);
    host.incremental_sync(&mut server, &ctx);
    assert_in_step(&server, &profile, &host);
    let after: Vec<String> = host.local.ids("bookableresourcebooking");
    let left: Vec<&String> = before.iter().filter(|b| !after.contains(b)).collect();
    let entered: Vec<&String> = after.iter().filter(|b| !before.contains(b)).collect();
    assert!(!left.is_empty(), "no booking left the window");
    assert!(!entered.is_empty(), "no booking entered the window");
    // Entered without being modified: only the window refresh can have found them.
    assert!(host.evicted.iter().any(|(t, id)| t == "bookableresourcebooking" && left.contains(&id)));
    assert!(left.contains(&&gid(13, 3000)) && entered.contains(&&gid(13, 3001)));
}

#[test]
fn rows_created_offline_stay_until_uploaded() {
    let (mut server, profile, mut host) = synced(50);
    let ctx = ctx_at(NOW_MS);
    // A booking created offline, far outside the window, on an out-of-scope work order that is stored locally.
    let wo = (1..=30).map(|w| gid(9, w)).find(|w| !host.has("msdyn_workorder", w)).unwrap();
    let wo_row = server.row("msdyn_workorder", &wo).unwrap().clone();
    host.local.put("msdyn_workorder", &wo, wo_row);
    let id = gid(13, 2000);
    let row = json!({"bookableresourcebookingid": id, "name": "offline", "starttime": iso(NOW_MS + 40 * DAY_MS),
        "endtime": iso(NOW_MS + 40 * DAY_MS), "_msdyn_workorder_value": wo});
    host.local.put("bookableresourcebooking", &id, row.as_object().unwrap().clone());
    host.local.set_pending("bookableresourcebooking", &id, true);
    host.incremental_sync(&mut server, &ctx);
    assert!(host.has("bookableresourcebooking", &id), "a pending row is never evicted");
    assert!(host.has("msdyn_workorder", &wo), "nor what it references");
    // Uploaded: no longer pending, and it does not match the filters: evicted with its work order.
    let mut uploaded = row.as_object().unwrap().clone();
    uploaded.remove("bookableresourcebookingid");
    server.upsert("bookableresourcebooking", &id, Value::Object(uploaded));
    host.local.set_pending("bookableresourcebooking", &id, false);
    host.incremental_sync(&mut server, &ctx);
    assert!(!host.has("bookableresourcebooking", &id));
    assert!(!host.has("msdyn_workorder", &wo));
    assert_in_step(&server, &profile, &host);
}

#[test]
fn a_quiet_sync_costs_one_read_per_table_plus_the_window_refreshes() {
    let (mut server, profile, mut host) = synced(5000);
    server.requests.clear();
    host.incremental_sync(&mut server, &ctx_at(NOW_MS));
    let tables = host.plan.tables().len();
    let refreshes = host.plan.tables().iter().filter(|t| t.refresh.is_some()).count();
    assert_eq!(server.requests.len(), tables + refreshes);
    assert!(host.evicted.is_empty());
    assert_in_step(&server, &profile, &host);
    // One changed contact: one delta row, one fetch by id; nothing else.
    let contact = host.local.ids("contact")[0].clone();
    server.modify("contact", &contact, json!({"lastname": "Changed"}));
    server.requests.clear();
    host.incremental_sync(&mut server, &ctx_at(NOW_MS));
    assert_eq!(server.requests.len(), tables + refreshes + 1);
}

/// A server-side change the property test applies.
#[derive(Debug, Clone)]
enum Mutation {
    MoveBooking(u32, i64),
    HandBooking(u32, u32),
    RetargetBooking(u32, u32),
    NewBooking(u32, i64, u32),
    DeleteBooking(u32),
    DeleteLine(u32),
    NewLine(u32, u32),
    RetargetServiceAccount(u32, u32),
    ReparentContact(u32, u32),
    RenameAccount(u32),
    NextDay,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (1u32..=60, -3i64..12).prop_map(|(b, d)| Mutation::MoveBooking(b, d)),
        (1u32..=60, 1u32..=2).prop_map(|(b, r)| Mutation::HandBooking(b, r)),
        (1u32..=60, 1u32..=30).prop_map(|(b, w)| Mutation::RetargetBooking(b, w)),
        (1u32..=30, -2i64..9, 1u32..=2).prop_map(|(w, d, r)| Mutation::NewBooking(w, d, r)),
        (1u32..=60).prop_map(Mutation::DeleteBooking),
        (1u32..=30).prop_map(Mutation::DeleteLine),
        (1u32..=30, 1u32..=20).prop_map(|(w, p)| Mutation::NewLine(w, p)),
        (1u32..=30, 1u32..=15).prop_map(|(w, a)| Mutation::RetargetServiceAccount(w, a)),
        (1u32..=25, 1u32..=15).prop_map(|(c, a)| Mutation::ReparentContact(c, a)),
        (1u32..=15).prop_map(Mutation::RenameAccount),
        Just(Mutation::NextDay),
    ]
}

fn apply_mutation(server: &mut TestServer, m: &Mutation, n: u32) {
    let exists = |s: &TestServer, t: &str, id: &str| s.row(t, id).is_some();
    match *m {
        Mutation::MoveBooking(b, d) => {
            let id = gid(13, b);
            if exists(server, "bookableresourcebooking", &id) {
                let start = server.now_ms + d * DAY_MS;
                server.modify(
                    "bookableresourcebooking",
                    &id,
                    json!({"starttime": iso(start), "endtime": iso(start + 3_600_000)}),
                );
            }
        }
        Mutation::HandBooking(b, r) => {
            let id = gid(13, b);
            if exists(server, "bookableresourcebooking", &id) {
                server.modify("bookableresourcebooking", &id, json!({"_resource_value": gid(2, r)}));
            }
        }
        Mutation::RetargetBooking(b, w) => {
            let id = gid(13, b);
            if exists(server, "bookableresourcebooking", &id) && exists(server, "msdyn_workorder", &gid(9, w)) {
                server.modify("bookableresourcebooking", &id, json!({"_msdyn_workorder_value": gid(9, w)}));
            }
        }
        Mutation::NewBooking(w, d, r) => {
            let start = server.now_ms + d * DAY_MS;
            server.upsert(
                "bookableresourcebooking",
                &gid(13, 5000 + n),
                json!({"name": "new", "starttime": iso(start),
                "endtime": iso(start + 3_600_000), "_resource_value": ["bookableresource", gid(2, r)],
                "_msdyn_workorder_value": ["msdyn_workorder", gid(9, w)]}),
            );
        }
        Mutation::DeleteBooking(b) => server.delete("bookableresourcebooking", &gid(13, b)),
        Mutation::DeleteLine(w) => server.delete("msdyn_workorderproduct", &gid(10, w * 10 + 1)),
        Mutation::NewLine(w, p) => server.upsert(
            "msdyn_workorderproduct",
            &gid(10, 9000 + n),
            json!({"msdyn_name": "new line",
            "_msdyn_workorder_value": ["msdyn_workorder", gid(9, w)], "_msdyn_product_value": ["product", gid(4, p)]}),
        ),
        Mutation::RetargetServiceAccount(w, a) => {
            server.modify("msdyn_workorder", &gid(9, w), json!({"_msdyn_serviceaccount_value": gid(6, a)}))
        }
        Mutation::ReparentContact(c, a) => {
            server.modify("contact", &gid(7, c), json!({"_parentcustomerid_value": gid(6, a)}))
        }
        Mutation::RenameAccount(a) => server.modify("account", &gid(6, a), json!({"name": format!("Renamed {n}")})),
        Mutation::NextDay => server.now_ms += DAY_MS,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn after_any_changes_the_device_holds_exactly_the_scope(
        rounds in proptest::collection::vec(proptest::collection::vec(mutation(), 0..6), 1..4),
        page_size in 3u32..40,
    ) {
        let (mut server, profile, mut host) = synced(page_size);
        let mut n = 0;
        for round in rounds {
            for m in &round {
                n += 1;
                apply_mutation(&mut server, m, n);
            }
            let ctx = ctx_at(server.now_ms);
            host.incremental_sync(&mut server, &ctx);
            prop_assert_eq!(host.snapshot(), expected_scope(&server, &profile, server.now_ms));
            for (t, ids) in host.snapshot() {
                for id in ids {
                    prop_assert_eq!(host.local.get(&t, &id), server.row(&t, &id));
                }
            }
        }
    }
}

/// The default profile with every filter that moves (dates, the user, related rows) replaced by one on the row's
/// own columns: a static profile, whose evictions the host computes from the changes alone.
fn static_profile(schema: &xrm_offline::schema::Schema) -> xrm_offline::profile::Profile {
    use xrm_offline::profile::{CustomFilter, ItemFilter};
    let mut p = xrm_offline::profile::field_service_default();
    for item in &mut p.items {
        let moving = !matches!(item.filter, ItemFilter::All | ItemFilter::Related);
        if item.table == "bookableresourcebooking" {
            item.filter = ItemFilter::Custom(CustomFilter::new(
                r#"<filter><condition attribute="name" operator="like" value="Booking 1%" /></filter>"#,
            ));
        } else if moving {
            item.filter = ItemFilter::Related;
        }
    }
    p.prepare(schema).expect("the static profile prepares");
    p
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// With a static profile the sync support host checks every eviction pass against `evictions_among` over the
    /// rows changed since the last pass (it asserts both give the same rows), and the device holds the scope.
    #[test]
    fn evictions_among_the_changes_equal_the_full_pass_for_static_profiles(
        rounds in proptest::collection::vec(proptest::collection::vec(mutation(), 0..8), 1..4),
        page_size in 3u32..40,
    ) {
        let mut server = TestServer::new();
        seed(&mut server);
        let profile = static_profile(&server.schema);
        let mut host = Host::new(&profile, &server.schema, page_size);
        prop_assert!(host.plan.is_static());
        prop_assert!(host.first_sync(&mut server, usize::MAX));
        let mut n = 0;
        for round in rounds {
            for m in &round {
                n += 1;
                apply_mutation(&mut server, m, n);
            }
            let ctx = ctx_at(server.now_ms);
            let checks = host.targeted_checks;
            host.incremental_sync(&mut server, &ctx);
            prop_assert_eq!(host.targeted_checks, checks + 1);
            prop_assert_eq!(host.snapshot(), expected_scope(&server, &profile, server.now_ms));
        }
    }
}

#[test]
fn evictions_among_cascade_when_a_static_profile_loses_its_bookings() {
    let mut server = TestServer::new();
    seed(&mut server);
    let profile = static_profile(&server.schema);
    let mut host = Host::new(&profile, &server.schema, 25);
    assert!(host.first_sync(&mut server, usize::MAX));
    let before: usize = host.snapshot().values().map(Vec::len).sum();
    for b in [1, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19] {
        server.delete("bookableresourcebooking", &gid(13, b));
    }
    let ctx = ctx_at(server.now_ms);
    host.incremental_sync(&mut server, &ctx);
    // The host asserted evictions_among == evictions; the cascade took work orders and their lines with them.
    assert_eq!(host.targeted_checks, 1);
    let evicted_wo = host.evicted.iter().filter(|(t, _)| t == "msdyn_workorder").count();
    assert!(evicted_wo > 0, "no work order left the scope: {:?}", host.evicted);
    assert!(host.evicted.iter().any(|(t, _)| t == "msdyn_workorderproduct"));
    assert_eq!(host.snapshot(), expected_scope(&server, &profile, server.now_ms));
    assert!(host.snapshot().values().map(Vec::len).sum::<usize>() < before);
}
