//! First sync of the default Field Service profile against an in-memory Web API server: the FetchXML the core
//! emits selects exactly what `Profile::scope` keeps, tables download parents first, and an interrupted first sync
//! resumes at every page boundary without losing or repeating a row.
#![cfg(not(target_arch = "wasm32"))]

mod sync_support;

use proptest::prelude::*;
use sync_support::*;
use xrm_offline::query::plan::Columns;
use xrm_offline::sync::{first_sync_complete, Checkpoint, Cursor, Method, Phase, SyncPlan};

fn seeded() -> (TestServer, xrm_offline::profile::Profile) {
    let mut server = TestServer::new();
    seed(&mut server);
    let profile = default_profile(&server.schema);
    (server, profile)
}

#[test]
fn first_sync_downloads_exactly_the_profile_scope() {
    let (mut server, profile) = seeded();
    let mut host = Host::new(&profile, &server.schema, 7);
    assert!(host.first_sync(&mut server, usize::MAX));
    let expected = expected_scope(&server, &profile, NOW_MS);
    assert_eq!(host.snapshot(), expected);
    // FetchXML pages the Dataverse way: page 2 onwards carries page, count and the paging cookie.
    let paged = xrm_offline::sync::request::percent_decode(
        &server.requests.iter().find(|r| r.url.contains("page%3D%222%22")).expect("a second FetchXML page").url,
    );
    assert!(
        paged.contains("<fetch page=\"2\" count=\"7\" paging-cookie=\"&lt;cookie page=&quot;1&quot;&gt;"),
        "{paged}"
    );
    // The data set exercises the filters: some bookings in, some out; every related table has rows.
    let bookings = expected["bookableresourcebooking"].len();
    assert!(bookings > 5 && bookings < 60, "{bookings} bookings in scope");
    for t in ["msdyn_workorder", "msdyn_workorderproduct", "account", "contact", "product", "msdyn_incidenttype"] {
        assert!(!expected[t].is_empty(), "{t} is empty");
        assert!(expected[t].len() < server.tables[t].len() || t == "msdyn_incidenttype", "{t} keeps everything");
    }
    // Nothing to evict after a first sync.
    host.evict(&ctx_at(NOW_MS));
    assert!(host.evicted.is_empty(), "{:?}", host.evicted);
}

#[test]
fn first_sync_follows_next_links_too() {
    let (mut server, profile) = seeded();
    server.fetch_paging_cookies = false;
    let mut host = Host::new(&profile, &server.schema, 7);
    assert!(host.first_sync(&mut server, usize::MAX));
    assert_eq!(host.snapshot(), expected_scope(&server, &profile, NOW_MS));
    assert!(server.requests.iter().any(|r| r.url.contains("fetchXml") && r.url.contains("$skiptoken")));
}

#[test]
fn tables_download_parents_first() {
    let (mut server, profile) = seeded();
    let mut host = Host::new(&profile, &server.schema, 1000);
    assert!(host.first_sync(&mut server, usize::MAX));
    let first = |t: &str| host.download_order.iter().position(|x| x == t);
    for tp in host.plan.tables() {
        let Some(me) = first(&tp.table) else { continue };
        for dep in &tp.depends_on {
            let d = first(dep).unwrap_or_else(|| panic!("{dep} (a dependency of {}) downloaded nothing", tp.table));
            assert!(d < me, "{} downloaded before its dependency {dep}", tp.table);
        }
    }
    let order: Vec<&str> = host.plan.tables().iter().map(|t| t.table.as_str()).collect();
    let pos = |t: &str| order.iter().position(|x| *x == t).unwrap();
    assert!(pos("bookableresourcebooking") < pos("msdyn_workorder"));
    assert!(pos("msdyn_workorder") < pos("msdyn_workorderproduct"));
    assert!(pos("account") < pos("contact"));
}

#[test]
fn one_query_per_table_follows_the_relationship_chain() {
    let schema = xrm_offline::schema::field_service();
    let profile = default_profile(&schema);
    let plan = SyncPlan::new(&profile, &schema).unwrap();
    let wop = plan.table("msdyn_workorderproduct").unwrap();
    let xml = &wop.download.as_ref().unwrap().fetchxml;
    // Products whose work order is in scope; work orders are in scope when an in-scope booking points at them.
    assert!(xml.starts_with("<fetch><entity name=\"msdyn_workorderproduct\"><all-attributes/>"), "{xml}");
    assert!(xml.contains(
        "<link-entity name=\"msdyn_workorder\" from=\"msdyn_workorderid\" to=\"msdyn_workorder\" link-type=\"any\">"
    ));
    assert!(xml.contains(
        "<link-entity name=\"bookableresourcebooking\" from=\"msdyn_workorder\" to=\"msdyn_workorderid\" link-type=\"any\">"
    ));
    assert!(xml.contains("operator=\"next-seven-days\""));
    // Within Dataverse's 15 link-entities per query, URLs well under its 32 KB limit.
    for t in plan.tables() {
        let Some(d) = &t.download else { continue };
        let links = d.fetchxml.matches("<link-entity").count();
        assert!(links <= 15, "{}: {links} link-entities", t.table);
        assert!(d.request(&Cursor::Start, 5000).url.len() < 8_000, "{}", t.table);
    }
    // "all" has no filter; a custom filter is used as is.
    let status = plan.table("bookingstatus").unwrap().download.as_ref().unwrap().fetchxml.clone();
    assert_eq!(status, "<fetch><entity name=\"bookingstatus\"><all-attributes/></entity></fetch>");
    // Contacts: two relationships OR-ed (parent account in scope, or reported a work order in scope).
    let contact = &plan.table("contact").unwrap().download.as_ref().unwrap().fetchxml;
    assert!(contact.contains("<filter type=\"or\"><link-entity name=\"account\""), "{contact}");
    // Window refreshes exist for the moving filters only.
    let refreshed: Vec<&str> = plan.tables().iter().filter(|t| t.refresh.is_some()).map(|t| t.table.as_str()).collect();
    assert_eq!(refreshed, vec!["systemuser", "bookableresource", "bookableresourcebooking"]);
    let r = plan.table("bookableresourcebooking").unwrap().refresh.as_ref().unwrap();
    assert_eq!(r.query.columns, Columns::Some(vec!["bookableresourcebookingid".into()]));
}

#[test]
fn requests_have_the_web_api_shape() {
    let schema = xrm_offline::schema::field_service();
    let profile = default_profile(&schema);
    let plan = SyncPlan::new(&profile, &schema).unwrap();
    let wo = plan.table("msdyn_workorder").unwrap();
    let q = wo.download.as_ref().unwrap();
    let r = q.request(&Cursor::Start, 500);
    assert_eq!(r.method, Method::Get);
    assert!(r.url.starts_with("msdyn_workorders?fetchXml=%3Cfetch%3E%3Centity%20name%3D%22msdyn_workorder%22"));
    assert_eq!(r.header("Prefer"), Some("odata.include-annotations=\"*\",odata.maxpagesize=500"));
    assert_eq!(r.header("OData-Version"), Some("4.0"));
    let next = q.request(&Cursor::Link { url: "https://x/api/data/v9.2/msdyn_workorders?$skiptoken=a".into() }, 500);
    assert_eq!(next.url, "https://x/api/data/v9.2/msdyn_workorders?$skiptoken=a");
    let cookie = q.request(&Cursor::FetchPage { page: 3, cookie: Some("<cookie page=\"2\"/>".into()) }, 500);
    let xml = xrm_offline::sync::request::percent_decode(cookie.url.split_once("fetchXml=").unwrap().1);
    assert!(xml.starts_with("<fetch page=\"3\" count=\"500\" paging-cookie=\"&lt;cookie page=&quot;2&quot;/&gt;\">"));
    // Change tracking: no filter (Dataverse refuses one), the primary id only.
    let cp = Checkpoint::new("msdyn_workorder");
    let t = cp.next_request(&plan, 200).unwrap().unwrap();
    assert_eq!(t.url, "msdyn_workorders?$select=msdyn_workorderid");
    assert_eq!(t.header("Prefer"), Some("odata.track-changes,odata.maxpagesize=200"));
}

#[test]
fn first_sync_completes_only_when_every_table_is_done() {
    let (mut server, profile) = seeded();
    let mut host = Host::new(&profile, &server.schema, 50);
    assert!(!host.first_sync(&mut server, 5));
    let cps: Vec<Checkpoint> = host.checkpoints.values().cloned().collect();
    assert!(!first_sync_complete(&host.plan, &cps));
    assert!(host.first_sync(&mut server, usize::MAX));
    let cps: Vec<Checkpoint> = host.checkpoints.values().cloned().collect();
    assert!(first_sync_complete(&host.plan, &cps));
    assert!(cps.iter().all(|c| matches!(&c.phase, Phase::Done { delta_link } if delta_link.contains("$deltatoken="))));
    assert!(!first_sync_complete(&host.plan, &cps[1..]));
}

/// Local ids per table.
type Snapshot = std::collections::BTreeMap<String, Vec<String>>;

/// Runs a first sync interrupted after each budget in `budgets` (a reload: a new host from the stored rows and
/// checkpoints), then to the end. Returns the puts and the final rows.
fn interrupted(budgets: &[usize], page_size: u32) -> (Vec<(String, String)>, Snapshot) {
    let (mut server, profile) = seeded();
    let mut host = Host::new(&profile, &server.schema, page_size);
    for &b in budgets {
        if host.first_sync(&mut server, b) {
            break;
        }
        // Reload: only what was committed survives (rows and checkpoints, as JSON).
        let mut fresh = Host::new(&profile, &server.schema, page_size);
        fresh.local = host.local.clone();
        fresh.checkpoints =
            host.checkpoints.iter().map(|(k, v)| (k.clone(), Checkpoint::from_json(&v.to_json()).unwrap())).collect();
        fresh.puts = host.puts.clone();
        host = fresh;
    }
    assert!(host.first_sync(&mut server, usize::MAX));
    (host.puts.clone(), host.snapshot())
}

#[test]
fn an_interrupted_first_sync_resumes_at_every_page_boundary() {
    let (uninterrupted_puts, uninterrupted) = interrupted(&[], 9);
    let (mut server, profile) = seeded();
    let mut probe = Host::new(&profile, &server.schema, 9);
    assert!(probe.first_sync(&mut server, usize::MAX));
    let pages = server.requests.len();
    assert!(pages > 20, "only {pages} pages");
    for b in 0..pages {
        let (puts, rows) = interrupted(&[b], 9);
        assert_eq!(rows, uninterrupted, "interrupted after {b} pages");
        assert_eq!(puts, uninterrupted_puts, "interrupted after {b} pages: a row was lost or fetched twice");
    }
}

/// As `interrupted`, with the page size changed before every download page (`sizes` in turn).
fn resized(budgets: &[usize], page_size: u32, sizes: &[u32]) -> (Vec<(String, String)>, Snapshot) {
    let (mut server, profile) = seeded();
    let mut host = Host::new(&profile, &server.schema, page_size);
    host.page_sizes = sizes.to_vec();
    for &b in budgets {
        if host.first_sync(&mut server, b) {
            break;
        }
        let mut fresh = Host::new(&profile, &server.schema, page_size);
        fresh.page_sizes = sizes.iter().rev().copied().collect();
        fresh.local = host.local.clone();
        fresh.checkpoints =
            host.checkpoints.iter().map(|(k, v)| (k.clone(), Checkpoint::from_json(&v.to_json()).unwrap())).collect();
        fresh.puts = host.puts.clone();
        host = fresh;
    }
    assert!(host.first_sync(&mut server, usize::MAX));
    (host.puts.clone(), host.snapshot())
}

#[test]
fn the_page_size_changes_only_where_the_next_page_still_starts_at_the_next_row() {
    let (_, profile) = seeded();
    let schema = xrm_offline::schema::field_service();
    let plan = SyncPlan::new(&profile, &schema).unwrap();
    let at = |cursor: Cursor, size: Option<u32>| Checkpoint {
        phase: Phase::Downloading { delta_link: "d".into(), cursor },
        page_size: size,
        ..Checkpoint::new("msdyn_workorder")
    };
    let page = |cp: &Checkpoint| match &cp.phase {
        Phase::Downloading { cursor: Cursor::FetchPage { page, .. }, .. } => *page,
        _ => 0,
    };
    // At the start any size goes, and the request asks for it.
    let start = at(Cursor::Start, None).with_page_size(300, 5000);
    assert_eq!(start.page_size, Some(300));
    let req = start.next_request(&plan, 5000).unwrap().unwrap();
    assert!(req.header("Prefer").unwrap().ends_with("odata.maxpagesize=300"));
    // Page 3 of 5000 rows starts at row 10,000: 2,500 rows a page start there at page 5; 3,000 do not divide
    // 10,000, so the largest size under it that does is taken.
    let p3 = at(Cursor::FetchPage { page: 3, cookie: None }, None);
    let half = p3.with_page_size(2500, 5000);
    assert_eq!((half.page_size, page(&half)), (Some(2500), 5));
    let under = p3.with_page_size(3000, 5000);
    assert_eq!((under.page_size, page(&under)), (Some(2500), 5));
    // Growing: 500-row pages, 4 read (row 2,000): 1,000 rows start at page 3, 2,000 at page 2; 1,500 does not
    // divide 2,000, so 1,000.
    let p5 = at(Cursor::FetchPage { page: 5, cookie: Some("c".into()) }, Some(500));
    assert_eq!(page(&p5.with_page_size(1000, 5000)), 3);
    assert_eq!(page(&p5.with_page_size(2000, 5000)), 2);
    assert_eq!(p5.with_page_size(1500, 5000).page_size, Some(1000));
    let req = p5.with_page_size(2000, 5000).next_request(&plan, 5000).unwrap().unwrap();
    let xml = xrm_offline::sync::request::percent_decode(req.url.split_once("fetchXml=").unwrap().1);
    assert!(xml.starts_with("<fetch page=\"2\" count=\"2000\" paging-cookie=\"c\">"), "{xml}");
    // A next link keeps its paging; the size survives the JSON round trip.
    let link = at(Cursor::Link { url: "https://x/next".into() }, Some(70));
    assert_eq!(link.with_page_size(10, 5000), link);
    assert_eq!(Checkpoint::from_json(&half.to_json()).unwrap(), half);
    assert!(!Checkpoint::new("account").to_json().contains("pageSize"), "unchanged for checkpoints without a size");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Pages numbered by position (as Dataverse does without a paging cookie), the size changed before every page
    /// and the sync interrupted anywhere: the same rows in the same order as a sync at one size.
    #[test]
    fn a_download_resized_between_pages_reads_every_row_once(
        sizes in proptest::collection::vec(1u32..40, 1..12),
        budgets in proptest::collection::vec(0usize..8, 0..6),
    ) {
        let (reference_puts, reference) = interrupted(&[], 11);
        let (puts, rows) = resized(&budgets, 11, &sizes);
        prop_assert_eq!(rows, reference);
        prop_assert_eq!(puts, reference_puts);
    }

    #[test]
    fn repeated_interruptions_lose_and_repeat_nothing(budgets in proptest::collection::vec(0usize..8, 1..12)) {
        let (reference_puts, reference) = interrupted(&[], 11);
        let (puts, rows) = interrupted(&budgets, 11);
        prop_assert_eq!(rows, reference);
        prop_assert_eq!(puts, reference_puts);
    }
}

#[test]
fn an_invalid_profile_is_refused_with_its_reasons() {
    use xrm_offline::profile::{ItemFilter, Profile, ProfileItem};
    let schema = xrm_offline::schema::field_service();
    let p = Profile {
        id: None,
        name: "bad".into(),
        items: vec![ProfileItem::new("msdyn_workorder", ItemFilter::Related).with_interval(3)],
    };
    let e = SyncPlan::new(&p, &schema).unwrap_err();
    assert_eq!(e.code, xrm_offline::ErrorCode::InvalidProfile);
    assert!(e.message.contains("outside 5..1440"), "{}", e.message);
}
