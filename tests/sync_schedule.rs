//! Backoff bounds with a fixed random source, effective intervals and due tables.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::HashMap;

use proptest::prelude::*;
use xrm_offline::profile::{field_service_default, CustomFilter, ItemFilter, Profile, ProfileItem};
use xrm_offline::schema::field_service;
use xrm_offline::sync::{due_tables, effective_intervals, next_due_ms, Backoff, SyncPlan};

#[test]
fn backoff_doubles_jitters_caps_and_honours_retry_after() {
    let b = Backoff { base_ms: 1_000, cap_ms: 60_000 };
    // random 0.999…: just under the ceiling, which doubles then caps.
    let top: Vec<u64> = (0..8).map(|a| b.delay_ms(a, 0.999_999, None)).collect();
    assert_eq!(top, vec![999, 1_999, 3_999, 7_999, 15_999, 31_999, 59_999, 59_999]);
    assert_eq!(b.delay_ms(3, 0.5, None), 4_000);
    assert_eq!(b.delay_ms(3, 0.0, None), 0, "full jitter can retry at once");
    // Retry-After is a floor, even above the cap.
    assert_eq!(b.delay_ms(0, 0.1, Some(30)), 30_000);
    assert_eq!(b.delay_ms(10, 0.999, Some(120)), 120_000);
    assert_eq!(b.delay_ms(10, 0.5, Some(1)), 30_000);
    // Out-of-range random values are clamped; huge attempts do not overflow.
    assert_eq!(b.delay_ms(2, 7.0, None), 4_000);
    assert_eq!(b.delay_ms(2, f64::NAN, None), 0);
    assert_eq!(b.delay_ms(u32::MAX, 0.5, None), 30_000);
    assert_eq!(Backoff::default(), Backoff { base_ms: 1_000, cap_ms: 300_000 });
}

proptest! {
    #[test]
    fn backoff_stays_within_bounds(attempt in 0u32..100, r in 0.0f64..1.0, ra in proptest::option::of(0u64..1000),
        base in 1u64..10_000, cap in 1u64..1_000_000) {
        let b = Backoff { base_ms: base, cap_ms: cap };
        let d = b.delay_ms(attempt, r, ra);
        let floor = ra.map_or(0, |s| s * 1000);
        prop_assert!(d >= floor);
        prop_assert!(d <= b.ceiling_ms(attempt).max(floor));
        prop_assert!(b.ceiling_ms(attempt) <= cap);
        prop_assert!(b.ceiling_ms(attempt) <= b.ceiling_ms(attempt + 1));
    }
}

fn profile_with(intervals: [u32; 4]) -> (Profile, SyncPlan) {
    let schema = field_service();
    let mut p = Profile { id: None, name: "t".into(), items: Vec::new() };
    let booking = ItemFilter::Custom(CustomFilter::new(
        "<filter><condition attribute=\"starttime\" operator=\"next-seven-days\"/></filter>",
    ));
    p.items.push(ProfileItem::new("bookableresourcebooking", booking).with_interval(intervals[0]));
    p.items.push(
        ProfileItem::new("msdyn_workorder", ItemFilter::Related)
            .with_relationships(["msdyn_msdyn_workorder_bookableresourcebooking_WorkOrder"])
            .with_interval(intervals[1]),
    );
    p.items.push(
        ProfileItem::new("msdyn_workorderproduct", ItemFilter::Related)
            .with_relationships(["msdyn_msdyn_workorder_msdyn_workorderproduct_WorkOrder"])
            .with_interval(intervals[2]),
    );
    p.items.push(ProfileItem::new("product", ItemFilter::All).with_interval(intervals[3]));
    p.prepare(&schema).unwrap();
    let plan = SyncPlan::new(&p, &schema).unwrap();
    (p, plan)
}

#[test]
fn a_table_syncs_no_less_often_than_what_it_depends_on() {
    let (_, plan) = profile_with([120, 30, 1440, 720]);
    let eff: HashMap<String, u32> = effective_intervals(&plan).into_iter().collect();
    assert_eq!(eff["bookableresourcebooking"], 120);
    assert_eq!(eff["msdyn_workorder"], 30, "its own, shorter than the bookings'");
    assert_eq!(eff["msdyn_workorderproduct"], 30, "pulled down to its work orders'");
    assert_eq!(eff["product"], 720, "depends on nothing");
    let (_, plan) = profile_with([5, 60, 1440, 1440]);
    let eff: HashMap<String, u32> = effective_intervals(&plan).into_iter().collect();
    assert_eq!((eff["msdyn_workorder"], eff["msdyn_workorderproduct"]), (5, 5));
    // The default profile: everything 5 minutes but the booking statuses.
    let schema = field_service();
    let mut d = field_service_default();
    d.prepare(&schema).unwrap();
    let eff = effective_intervals(&SyncPlan::new(&d, &schema).unwrap());
    assert!(eff.iter().all(|(t, m)| *m == if t == "bookingstatus" { 1440 } else { 5 }), "{eff:?}");
}

#[test]
fn due_tables_follow_the_effective_intervals() {
    let (_, plan) = profile_with([120, 30, 1440, 720]);
    let now = 1_000_000_000_000i64;
    let min = 60_000i64;
    assert_eq!(due_tables(&plan, now, &HashMap::new()).len(), 4, "never synced: all due");
    let last: HashMap<String, i64> = [
        ("bookableresourcebooking", now - 60 * min),
        ("msdyn_workorder", now - 30 * min),
        ("msdyn_workorderproduct", now - 29 * min),
        ("product", now + 5 * min),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(due_tables(&plan, now, &last), vec!["msdyn_workorder", "product"]);
    let mut later = last.clone();
    later.insert("msdyn_workorder".into(), now);
    later.insert("product".into(), now);
    assert_eq!(next_due_ms(&plan, now, &later), now + min, "work order products, one minute from now");
    assert_eq!(next_due_ms(&plan, now, &HashMap::new()), now);
}
