//! The seed: deterministic, about 10,000 rows per unit of scale, realistic work orders.

use xrm_offline_server::meta::ServerSchema;
use xrm_offline_server::seed::seed;
use xrm_offline_server::store::{Access, Store};

const NOW: i64 = 1_795_000_000_000; // a fixed "now" so two seeds can be compared

fn dump(store: &Store) -> Vec<(String, String)> {
    let db = store.lock();
    let mut out = Vec::new();
    for (t, _) in db.counts().unwrap() {
        for r in db.scan(&t, &Access::All, None, usize::MAX).unwrap() {
            out.push((format!("{t}:{}:{}", r.id, r.version), serde_json::Value::Object(r.data).to_string()));
        }
    }
    out
}

#[test]
fn the_same_scale_and_clock_give_the_same_rows() {
    let schema = ServerSchema::load();
    let (a, b) = (Store::open(":memory:").unwrap(), Store::open(":memory:").unwrap());
    let ra = seed(&a, &schema.schema, 1, NOW).unwrap();
    let rb = seed(&b, &schema.schema, 1, NOW).unwrap();
    assert_eq!(ra, rb);
    assert!(ra.written);
    assert_eq!(dump(&a), dump(&b));
}

#[test]
fn scale_one_is_about_ten_thousand_rows_with_every_field_service_table() {
    let schema = ServerSchema::load();
    let s = Store::open(":memory:").unwrap();
    let r = seed(&s, &schema.schema, 1, NOW).unwrap();
    assert!((9_000..=12_000).contains(&r.total), "{}", r.total);
    let count = |t: &str| r.tables.iter().find(|x| x.0 == t).map(|x| x.1).unwrap_or(0);
    for t in [
        "businessunit",
        "team",
        "systemuser",
        "account",
        "contact",
        "msdyn_customerasset",
        "product",
        "msdyn_incidenttype",
        "msdyn_workorder",
        "msdyn_workorderproduct",
        "msdyn_workorderservice",
        "msdyn_workorderservicetask",
        "bookableresource",
        "bookableresourcebooking",
        "bookingstatus",
        "mobileofflineprofile",
        "mobileofflineprofileitem",
    ] {
        assert!(count(t) > 0, "{t} is empty");
    }
    assert_eq!(count("msdyn_workorder"), 1500);
    assert_eq!(count("account"), 500);
    // Seeding again writes nothing.
    assert!(!seed(&s, &schema.schema, 1, NOW).unwrap().written);
    // Work orders are realistic in size.
    let db = s.lock();
    let wos = db.scan("msdyn_workorder", &Access::All, None, 100).unwrap();
    let avg =
        wos.iter().map(|r| serde_json::Value::Object(r.data.clone()).to_string().len()).sum::<usize>() / wos.len();
    assert!((700..=2500).contains(&avg), "average work order JSON is {avg} bytes");
}

#[test]
fn scale_scales_linearly() {
    let schema = ServerSchema::load();
    let s = Store::open(":memory:").unwrap();
    let r = seed(&s, &schema.schema, 3, NOW).unwrap();
    let wo = r.tables.iter().find(|x| x.0 == "msdyn_workorder").unwrap().1;
    assert_eq!(wo, 4500);
    assert!((27_000..=36_000).contains(&r.total), "{}", r.total);
}

#[test]
fn bookings_span_two_weeks_back_to_three_weeks_ahead() {
    let schema = ServerSchema::load();
    let s = Store::open(":memory:").unwrap();
    seed(&s, &schema.schema, 1, NOW).unwrap();
    let db = s.lock();
    let today = NOW - NOW.rem_euclid(86_400_000);
    let (mut min, mut max) = (i64::MAX, i64::MIN);
    let tech1_resource = xrm_offline_server::seed::data::seed_id("bookableresource", 0);
    let bookings = db.scan("bookableresourcebooking", &Access::All, None, usize::MAX).unwrap();
    let tech1 = bookings.iter().filter(|b| b.data["_resource_value"] == tech1_resource.as_str()).count();
    assert!((35 * 2..=35 * 7).contains(&tech1), "tech1 has {tech1} bookings over 35 days");
    for b in bookings {
        let t = xrm_offline_server::clock::parse_rfc3339(b.data["starttime"].as_str().unwrap()).unwrap();
        min = min.min(t);
        max = max.max(t);
    }
    assert!(min >= today - 14 * 86_400_000 && min < today - 12 * 86_400_000, "{min}");
    assert!(max < today + 21 * 86_400_000 && max > today + 18 * 86_400_000, "{max}");
}
