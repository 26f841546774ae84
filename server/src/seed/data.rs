//! The deterministic Field Service dataset: a fixed PRNG, fixed ids, dates relative to the server's today.

use serde_json::{json, Map, Value};

use super::users::{self, BUSINESS_UNITS, USERS};
use xrm_offline::schema::Schema;

use crate::clock;
use crate::meta::build::guid_from;

/// splitmix64: the same sequence on every machine.
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The id of a seeded row.
pub fn seed_id(table: &str, i: usize) -> String {
    guid_from(&format!("seed:{table}:{i}"))
}

/// The id of a seeded booking status by name.
pub fn booking_status_id(name: &str) -> String {
    guid_from(&format!("seed:bookingstatus:{name}"))
}

/// One generated row: table, id, data (without system columns), owner user id (user-owned tables).
pub struct SeedRow {
    /// Table logical name.
    pub table: &'static str,
    /// Primary key.
    pub id: String,
    /// Columns in Web API shape.
    pub data: Map<String, Value>,
    /// Owning user, for user-owned tables.
    pub owner: Option<String>,
}

pub fn lookup(data: &mut Map<String, Value>, attr: &str, table: &str, id: &str) {
    data.insert(format!("_{attr}_value"), Value::from(id));
    data.insert(format!("_{attr}_value@Microsoft.Dynamics.CRM.lookuplogicalname"), Value::from(table));
}

pub fn row(table: &'static str, id: String, fields: Value) -> SeedRow {
    let mut data = match fields {
        Value::Object(o) => o,
        _ => Map::new(),
    };
    data.insert(format!("{table}id"), Value::from(id.clone()));
    SeedRow { table, id, data, owner: None }
}

const FIRST: &[&str] =
    &["Alex", "Maria", "Jon", "Priya", "Wei", "Fatima", "Lars", "Chloe", "Diego", "Amara", "Kenji", "Sofia"];
const LAST: &[&str] =
    &["Smith", "Garcia", "Nguyen", "Okafor", "Jensen", "Rossi", "Kowalski", "Silva", "Haddad", "Tanaka"];
const COMPANY: &[&str] =
    &["Fabrikam", "Contoso", "Northwind", "Litware", "Adventure Works", "Tailspin", "Woodgrove", "Proseware"];
const KIND: &[&str] = &["Hospital", "Mall", "Factory", "Hotel", "School", "Data Center", "Warehouse", "Office Park"];
const CITY: &[(&str, f64, f64)] = &[
    ("Seattle", 47.61, -122.33),
    ("Redmond", 47.67, -122.12),
    ("Tacoma", 47.25, -122.44),
    ("Portland", 45.52, -122.68),
    ("Spokane", 47.66, -117.43),
    ("Boise", 43.62, -116.21),
];
const STREET: &[&str] =
    &["Main St", "Oak Ave", "Pine Rd", "Lake Blvd", "Market St", "Cedar Ln", "1st Ave", "Harbor Way"];
const INCIDENTS: &[&str] = &[
    "HVAC not cooling",
    "Boiler pressure low",
    "Elevator inspection",
    "Fire alarm fault",
    "Generator maintenance",
    "Chiller leak",
    "Thermostat replacement",
    "Filter change",
    "Compressor noise",
    "Annual safety check",
];
const PARTS: &[&str] =
    &["Air filter", "Fan belt", "Compressor", "Thermostat", "Valve", "Pressure gauge", "Capacitor", "Sensor"];
const TASKS: &[&str] =
    &["Inspect unit", "Replace part", "Test operation", "Clean coils", "Check refrigerant", "Customer sign-off"];
const FS_STATUSES: &[(&str, i64, i64)] = &[
    ("Scheduled", 2, 690970000),
    ("Traveling", 2, 690970001),
    ("In Progress", 2, 690970002),
    ("On Break", 2, 690970003),
    ("Completed", 2, 690970004),
    ("Canceled", 3, 690970005),
];

fn iso(ms: i64) -> Value {
    Value::from(clock::format_rfc3339(ms))
}

const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;

/// Everything the seed writes, in dependency order. `today_ms` is midnight UTC of the server's today.
pub fn generate(scale: u32, today_ms: i64, schema: &Schema) -> Vec<SeedRow> {
    let n = scale.max(1) as usize;
    let mut rng = Rng::new(0x5eed_f1e1_d5e7_1ce5);
    let mut out = Vec::new();
    // Security principals.
    for (key, name, parent) in BUSINESS_UNITS {
        let mut r = row("businessunit", users::bu_id(key), json!({ "name": name }));
        if let Some(p) = parent {
            lookup(&mut r.data, "parentbusinessunitid", "businessunit", &users::bu_id(p));
        }
        out.push(r);
        let mut t = row("team", users::team_id(key), json!({ "name": name, "teamtype": 0, "isdefault": true }));
        lookup(&mut t.data, "businessunitid", "businessunit", &users::bu_id(key));
        lookup(&mut t.data, "administratorid", "systemuser", &users::user_id("admin"));
        out.push(t);
    }
    // Seeded users, then extra technicians (no tokens) so larger scales keep per-resource loads realistic.
    let mut techs: Vec<(String, &'static str)> = Vec::new(); // (user id, bu key)
    let mut all_users: Vec<(String, String, String, &'static str)> =
        USERS.iter().map(|u| (users::user_id(u.key), u.first.to_string(), u.last.to_string(), u.bu)).collect();
    for u in USERS.iter().filter(|u| u.role == users::Role::Technician) {
        techs.push((users::user_id(u.key), u.bu));
    }
    for i in 0..(2 * n) {
        let bu = if i % 2 == 0 { "north" } else { "south" };
        let id = guid_from(&format!("seed:systemuser:extra{i}"));
        all_users.push((id.clone(), rng.pick(FIRST).to_string(), format!("Tech{i}"), bu));
        techs.push((id, bu));
    }
    for (i, (id, first, last, bu)) in all_users.iter().enumerate() {
        let key = USERS.get(i).map(|u| u.key.to_string()).unwrap_or_else(|| format!("extra{}", i - USERS.len()));
        let mut r = row(
            "systemuser",
            id.clone(),
            json!({
                "firstname": first, "lastname": last, "fullname": format!("{first} {last}"),
                "domainname": users::domain_name(&key), "internalemailaddress": users::domain_name(&key), "isdisabled": false,
            }),
        );
        lookup(&mut r.data, "businessunitid", "businessunit", &users::bu_id(bu));
        out.push(r);
        let mut m = row("teammembership", guid_from(&format!("seed:teammembership:{id}")), json!({}));
        lookup(&mut m.data, "systemuserid", "systemuser", id);
        lookup(&mut m.data, "teamid", "team", &users::team_id(bu));
        out.push(m);
    }
    let by_bu = |bu: &str| -> Vec<String> { techs.iter().filter(|t| t.1 == bu).map(|t| t.0.clone()).collect() };
    let north = by_bu("north");
    let south = by_bu("south");
    // Reference data (organisation-owned).
    for (name, status, fs) in FS_STATUSES {
        out.push(row(
            "bookingstatus",
            booking_status_id(name),
            json!({ "name": name, "status": status, "msdyn_fieldservicestatus": fs }),
        ));
    }
    let incident_count = 20;
    for i in 0..incident_count {
        out.push(row(
            "msdyn_incidenttype",
            seed_id("msdyn_incidenttype", i),
            json!({
                "msdyn_name": format!("{} ({})", INCIDENTS[i % INCIDENTS.len()], i / INCIDENTS.len() + 1),
                "msdyn_description": format!("Standard procedure for {}.", INCIDENTS[i % INCIDENTS.len()].to_lowercase()),
                "msdyn_estimatedduration": 30 + 15 * (i % 8) as i64,
            }),
        ));
    }
    let product_count = 100 * n;
    let service_count = 20;
    for i in 0..product_count + service_count {
        let service = i >= product_count;
        let name = if service {
            format!("Service hour {}", i - product_count + 1)
        } else {
            format!("{} {}", PARTS[i % PARTS.len()], i + 1)
        };
        out.push(row(
            "product",
            seed_id("product", i),
            json!({
                "name": name, "productnumber": format!("P-{:05}", i + 1),
                "description": format!("{name} for commercial HVAC and building systems."),
                "price": 10.0 + (rng.below(50_000) as f64) / 100.0,
                "msdyn_fieldserviceproducttype": if service { 690970002 } else { 690970000 },
                "quantitydecimal": 2, "producttypecode": 1, "standardcost": 5.0,
            }),
        ));
    }
    for w in 0..3 {
        out.push(row(
            "msdyn_warehouse",
            seed_id("msdyn_warehouse", w),
            json!({ "msdyn_name": format!("Warehouse {}", w + 1) }),
        ));
    }
    for i in 0..product_count {
        for w in 0..2 {
            let mut r = row(
                "msdyn_productinventory",
                seed_id("msdyn_productinventory", i * 2 + w),
                json!({ "msdyn_qtyavailable": rng.below(40) as f64, "msdyn_qtyonhand": rng.below(60) as f64 }),
            );
            lookup(&mut r.data, "msdyn_product", "product", &seed_id("product", i));
            lookup(&mut r.data, "msdyn_warehouse", "msdyn_warehouse", &seed_id("msdyn_warehouse", w));
            out.push(r);
        }
    }
    // Customers.
    let account_count = 500 * n;
    let mut account_bu: Vec<&str> = Vec::with_capacity(account_count);
    for i in 0..account_count {
        let bu = if i % 2 == 0 { "north" } else { "south" };
        account_bu.push(bu);
        let (city, lat, lon) = *rng.pick(CITY);
        let name = format!("{} {} {}", rng.pick(COMPANY), rng.pick(KIND), i + 1);
        let mut r = row(
            "account",
            seed_id("account", i),
            json!({
                "name": name, "accountnumber": format!("A{:06}", i + 1), "telephone1": format!("+1 206 555 {:04}", i % 10_000),
                "emailaddress1": format!("facilities{}@example.com", i + 1),
                "address1_line1": format!("{} {}", 100 + rng.below(9000), rng.pick(STREET)), "address1_city": city,
                "address1_postalcode": format!("98{:03}", rng.below(1000)),
                "address1_latitude": lat + rng.below(1000) as f64 / 10_000.0, "address1_longitude": lon - rng.below(1000) as f64 / 10_000.0,
                "revenue": (rng.below(500) as f64) * 10_000.0, "numberofemployees": 10 + rng.below(5000) as i64,
                "description": "Customer with a service agreement for building systems.",
            }),
        );
        lookup(&mut r.data, "primarycontactid", "contact", &seed_id("contact", i * 2));
        r.owner = Some(rng.pick(if bu == "north" { &north } else { &south }).clone());
        out.push(r);
    }
    for i in 0..account_count * 2 {
        let (first, last) = (*rng.pick(FIRST), *rng.pick(LAST));
        let mut r = row(
            "contact",
            seed_id("contact", i),
            json!({
                "firstname": first, "lastname": last, "fullname": format!("{first} {last}"),
                "emailaddress1": format!("{}.{}{}@example.com", first.to_lowercase(), last.to_lowercase(), i),
                "telephone1": format!("+1 425 555 {:04}", i % 10_000), "jobtitle": "Facilities Manager",
            }),
        );
        lookup(&mut r.data, "parentcustomerid", "account", &seed_id("account", i / 2));
        r.owner = Some(rng.pick(if account_bu[i / 2] == "north" { &north } else { &south }).clone());
        out.push(r);
    }
    for i in 0..account_count {
        let mut r = row(
            "msdyn_customerasset",
            seed_id("msdyn_customerasset", i),
            json!({ "msdyn_name": format!("{} unit {}", PARTS[i % PARTS.len()], i + 1), "msdyn_assettag": format!("TAG-{:06}", i + 1) }),
        );
        lookup(&mut r.data, "msdyn_account", "account", &seed_id("account", i));
        lookup(&mut r.data, "msdyn_product", "product", &seed_id("product", i % product_count));
        r.owner = Some(rng.pick(if account_bu[i] == "north" { &north } else { &south }).clone());
        out.push(r);
    }
    // Bookable resources: one per technician.
    for (i, (uid, _)) in techs.iter().enumerate() {
        let name = all_users.iter().find(|u| &u.0 == uid).map(|u| format!("{} {}", u.1, u.2)).unwrap_or_default();
        let mut r = row(
            "bookableresource",
            seed_id("bookableresource", i),
            json!({ "name": name, "resourcetype": 3, "timezone": 85 }),
        );
        lookup(&mut r.data, "userid", "systemuser", uid);
        r.owner = Some(uid.clone());
        out.push(r);
    }
    // Work orders with their lines, and bookings from 14 days ago to 21 days ahead.
    let wo_count = 1500 * n;
    let (mut line_p, mut line_s, mut line_t, mut booking_i) = (0usize, 0usize, 0usize, 0usize);
    for i in 0..wo_count {
        let acct = rng.below(account_count);
        let bu = account_bu[acct];
        let pool: Vec<usize> = techs.iter().enumerate().filter(|(_, t)| t.1 == bu).map(|(k, _)| k).collect();
        // Each seeded technician gets about four bookings a day at any scale; the extra technicians take the rest.
        let seeded: Vec<usize> = pool.iter().copied().filter(|k| *k < 4).collect();
        let extra: Vec<usize> = pool.iter().copied().filter(|k| *k >= 4).collect();
        let per_mille = (280_000 / (600 * n)).min(1000);
        let tech = if extra.is_empty() || rng.below(1000) < per_mille { *rng.pick(&seeded) } else { *rng.pick(&extra) };
        let owner = techs[tech].0.clone();
        let day = rng.below(35) as i64 - 14;
        let start = today_ms + day * DAY + (8 + rng.below(8) as i64) * HOUR + (rng.below(4) as i64) * 15 * 60_000;
        let minutes = 30 + 30 * rng.below(6) as i64;
        let end = start + minutes * 60_000;
        let status = if day < 0 {
            if rng.below(5) == 0 {
                690970002
            } else {
                690970003
            }
        } else {
            690970001
        };
        let incident = INCIDENTS[rng.below(INCIDENTS.len())];
        let (city, lat, lon) = *rng.pick(CITY);
        let mut wo = json!({
            "msdyn_name": format!("{:08}", 100_000 + i),
            "msdyn_systemstatus": status,
            "msdyn_priority": 1 + rng.below(4) as i64,
            "msdyn_primaryincidentdescription": format!(
                "{incident}. The customer reports the problem started {} days ago and affects the main building. \
                 Access through the loading dock; ask for the facilities manager at reception.", 1 + rng.below(9)),
            "msdyn_instructions": "Wear safety equipment. Check in with security on arrival and record parts used on the \
                 work order before leaving the site. Photograph the unit before and after the repair.",
            "msdyn_address1": format!("{} {}", 100 + rng.below(9000), rng.pick(STREET)),
            "msdyn_city": city, "msdyn_postalcode": format!("98{:03}", rng.below(1000)),
            "msdyn_latitude": lat + rng.below(1000) as f64 / 10_000.0, "msdyn_longitude": lon - rng.below(1000) as f64 / 10_000.0,
            "msdyn_timefrompromised": clock::format_rfc3339(start - 2 * HOUR),
            "msdyn_timetopromised": clock::format_rfc3339(end + 2 * HOUR),
            "msdyn_datewindowstart": clock::format_rfc3339(today_ms + day * DAY),
            "msdyn_datewindowend": clock::format_rfc3339(today_ms + (day + 1) * DAY),
            "msdyn_estimatesubtotalamount": (rng.below(200_000) as f64) / 100.0,
            "msdyn_totalamount": (rng.below(300_000) as f64) / 100.0,
        });
        if status == 690970003 {
            wo["msdyn_workordersummary"] = Value::from("Repaired and tested; customer signed off.");
            wo["msdyn_completedon"] = iso(end);
        }
        let wo_id = seed_id("msdyn_workorder", i);
        let mut r = row("msdyn_workorder", wo_id.clone(), wo);
        lookup(&mut r.data, "msdyn_serviceaccount", "account", &seed_id("account", acct));
        lookup(&mut r.data, "msdyn_billingaccount", "account", &seed_id("account", acct));
        lookup(&mut r.data, "msdyn_reportedbycontact", "contact", &seed_id("contact", acct * 2));
        lookup(&mut r.data, "msdyn_customerasset", "msdyn_customerasset", &seed_id("msdyn_customerasset", acct));
        lookup(
            &mut r.data,
            "msdyn_primaryincidenttype",
            "msdyn_incidenttype",
            &seed_id("msdyn_incidenttype", rng.below(incident_count)),
        );
        r.owner = Some(owner.clone());
        out.push(r);
        let lines = if i % 3 == 2 { 1 } else { 2 - (i % 2) };
        for k in 0..lines.max(1) + usize::from(i % 3 == 0) {
            let product = rng.below(product_count);
            let qty = 1 + rng.below(4);
            let mut p = row(
                "msdyn_workorderproduct",
                seed_id("msdyn_workorderproduct", line_p),
                json!({
                    "msdyn_name": PARTS[product % PARTS.len()], "msdyn_estimatequantity": qty as f64,
                    "msdyn_quantity": if status == 690970003 { qty as f64 } else { 0.0 },
                    "msdyn_unitamount": 25.0 + k as f64, "msdyn_totalamount": (25.0 + k as f64) * qty as f64,
                    "msdyn_linestatus": if status == 690970003 { 690970001 } else { 690970000 },
                }),
            );
            lookup(&mut p.data, "msdyn_workorder", "msdyn_workorder", &wo_id);
            lookup(&mut p.data, "msdyn_product", "product", &seed_id("product", product));
            p.owner = Some(owner.clone());
            out.push(p);
            line_p += 1;
        }
        if i % 3 != 1 {
            let mut s = row(
                "msdyn_workorderservice",
                seed_id("msdyn_workorderservice", line_s),
                json!({ "msdyn_name": "Labor", "msdyn_duration": minutes, "msdyn_estimateduration": minutes, "msdyn_unitamount": 95.0,
                        "msdyn_linestatus": if status == 690970003 { 690970001 } else { 690970000 } }),
            );
            lookup(&mut s.data, "msdyn_workorder", "msdyn_workorder", &wo_id);
            lookup(
                &mut s.data,
                "msdyn_service",
                "product",
                &seed_id("product", product_count + rng.below(service_count)),
            );
            s.owner = Some(owner.clone());
            out.push(s);
            line_s += 1;
        }
        for k in 0..(1 + i % 2) {
            let mut t = row(
                "msdyn_workorderservicetask",
                seed_id("msdyn_workorderservicetask", line_t),
                json!({ "msdyn_name": TASKS[(i + k) % TASKS.len()], "msdyn_lineorder": k as i64 + 1, "msdyn_estimatedduration": 15,
                        "msdyn_percentcomplete": if status == 690970003 { 100.0 } else { 0.0 } }),
            );
            lookup(&mut t.data, "msdyn_workorder", "msdyn_workorder", &wo_id);
            t.owner = Some(owner.clone());
            out.push(t);
            line_t += 1;
        }
        if i % 5 != 4 {
            let status_name = match status {
                690970003 => "Completed",
                690970002 => "In Progress",
                _ => "Scheduled",
            };
            let mut b = row(
                "bookableresourcebooking",
                seed_id("bookableresourcebooking", booking_i),
                json!({ "name": format!("{:08}", 100_000 + i), "starttime": iso(start), "endtime": iso(end), "duration": minutes,
                        "msdyn_estimatedtravelduration": 15 + rng.below(30) as i64, "bookingtype": 2 }),
            );
            lookup(&mut b.data, "resource", "bookableresource", &seed_id("bookableresource", tech));
            lookup(&mut b.data, "bookingstatus", "bookingstatus", &booking_status_id(status_name));
            lookup(&mut b.data, "msdyn_workorder", "msdyn_workorder", &wo_id);
            b.owner = Some(owner.clone());
            out.push(b);
            booking_i += 1;
        }
    }
    out.extend(super::profile::rows(schema));
    out
}
