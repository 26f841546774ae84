//! The real documents the generators start from: the shipped schema and profile, the FetchXML and OData the sync
//! engine sends for that profile, hand-written queries over the Field Service tables, and server pages recorded
//! from a first and an incremental sync against the in-memory Web API server of the sync tests.

use std::sync::OnceLock;

use serde_json::{json, Value};
use xrm_offline::profile::{to_dataverse_json, ItemFilter, Profile, FIELD_SERVICE_PROFILE_JSON};
use xrm_offline::query::render::query_to_odata;
use xrm_offline::schema::{field_service, Schema};
use xrm_offline::sync::request::percent_decode;
use xrm_offline::sync::{read_page, track_changes_request, Checkpoint, Cursor, MemoryRows, SyncPlan};

use crate::sync_support::{ctx_at, default_profile, seed, Host, TestServer, BASE, NOW_MS};

/// The shipped Field Service schema (parsed once).
pub fn schema() -> &'static Schema {
    static S: OnceLock<Schema> = OnceLock::new();
    S.get_or_init(field_service)
}

/// The shipped profile, prepared, and its sync plan.
pub fn plan() -> &'static (Profile, SyncPlan) {
    static P: OnceLock<(Profile, SyncPlan)> = OnceLock::new();
    P.get_or_init(|| {
        let p = default_profile(schema());
        let plan = SyncPlan::new(&p, schema()).expect("the default profile plans");
        (p, plan)
    })
}

fn fetchxml_of_url(url: &str) -> Option<String> {
    url.split_once("fetchXml=").map(|(_, x)| percent_decode(x.split('&').next().unwrap_or(x)))
}

/// `<fetch>` documents: what the sync engine sends for the shipped profile, and hand-written ones over the Field
/// Service tables using every construct the parser accepts.
pub fn fetchxml_seeds() -> Vec<String> {
    let (_, plan) = plan();
    let mut out = Vec::new();
    for t in plan.tables() {
        for q in [&t.download, &t.refresh].into_iter().flatten() {
            out.push(q.fetchxml.clone());
            // The paging-cookie form of the second page.
            let cookie =
                Cursor::FetchPage { page: 2, cookie: Some("<cookie page=\"1\"><x last=\"{A}\"/></cookie>".into()) };
            if let Some(x) = fetchxml_of_url(&q.request(&cookie, 50).url) {
                out.push(x);
            }
        }
        let ids = ["aaaaaaaa-0000-4000-8000-000000000001".to_string(), "aaaaaaaa-0000-4000-8000-000000000002".into()];
        if let Ok(f) = plan.fetch_by_ids(&t.table, &ids, xrm_offline::sync::FollowUpReason::Changed) {
            out.extend(f.into_iter().map(|f| f.query.fetchxml));
        }
    }
    out.extend(
        [
            r#"<?xml version="1.0" encoding="utf-8"?><fetch version="1.0" mapping="logical" top="50" distinct="true" no-lock="true">
  <entity name="msdyn_workorder">
    <attribute name="msdyn_name"/><attribute name="msdyn_systemstatus"/><attribute name="msdyn_totalamount"/>
    <order attribute="msdyn_timefrompromised" descending="true"/>
    <filter type="and">
      <condition attribute="statecode" operator="eq" value="0"/>
      <condition attribute="msdyn_systemstatus" operator="in"><value>690970000</value><value>690970001</value></condition>
      <condition attribute="msdyn_name" operator="like" value="%WO-0[0-9]_%"/>
      <condition attribute="createdon" operator="last-x-days" value="30"/>
      <condition attribute="msdyn_totalestimatedduration" operator="ge" value="10"/>
      <filter type="or">
        <condition attribute="ownerid" operator="eq-userid"/>
        <condition attribute="ownerid" operator="eq-useroruserteams"/>
        <condition attribute="owningbusinessunit" operator="eq-businessid"/>
      </filter>
      <link-entity name="bookableresourcebooking" from="msdyn_workorder" to="msdyn_workorderid" link-type="any">
        <filter><condition attribute="starttime" operator="today"/></filter>
      </link-entity>
    </filter>
    <link-entity name="account" from="accountid" to="msdyn_serviceaccount" alias="sa" link-type="outer">
      <attribute name="name"/><order attribute="name"/>
      <filter><condition attribute="name" operator="not-null"/></filter>
    </link-entity>
    <link-entity name="contact" from="contactid" to="msdyn_reportedbycontact">
      <attribute name="fullname"/>
    </link-entity>
  </entity>
</fetch>"#,
            "<fetch count='25' page='3' returntotalrecordcount='true'><entity name='bookableresourcebooking'><all-attributes/>\
             <filter type='or'><condition attribute='starttime' operator='next-x-days' value='7'/>\
             <condition attribute='endtime' operator='on-or-after' value='2026-11-27T00:00:00Z'/>\
             <condition attribute='name' operator='begins-with' value='&lt;&amp;&#65;&#x42;'/>\
             <condition attribute='name' operator='in'><value><![CDATA[a<b>&c]]></value><value>x</value></condition></filter></entity></fetch>",
            "<fetch><entity name='account'><attribute name='name'/><attribute name='revenue'/>\
             <filter><condition attribute='revenue' operator='ge' value='1000000.50'/>\
             <condition attribute='numberofemployees' operator='lt' value='-5'/>\
             <condition attribute='primarycontactid' operator='eq' value='{3F2504E0-4F89-11D3-9A0C-0305E82C3301}'/>\
             <condition entityname='pc' attribute='fullname' operator='ne' value='x'/></filter>\
             <link-entity name='contact' from='contactid' to='primarycontactid' alias='pc' link-type='inner'/>\
             <link-entity name='contact' from='parentcustomerid' to='accountid' link-type='outer'><attribute name='fullname'/></link-entity>\
             </entity></fetch>",
            "<fetch><entity name='msdyn_workorderproduct'><filter><link-entity name='msdyn_workorder' from='msdyn_workorderid' \
             to='msdyn_workorder' link-type='not any'><filter type='or'><condition attribute='msdyn_systemstatus' operator='eq' value='690970004'/>\
             <link-entity name='account' from='accountid' to='msdyn_serviceaccount' link-type='all'><filter>\
             <condition attribute='name' operator='null'/></filter></link-entity></filter></link-entity></filter></entity></fetch>",
        ]
        .map(str::to_string),
    );
    out
}

/// Bare `<filter>` documents: the custom filters of the shipped profile (the form a profile author writes).
pub fn filter_seeds() -> Vec<(String, String)> {
    let (p, _) = plan();
    let mut out: Vec<(String, String)> = p
        .items
        .iter()
        .filter_map(|i| match &i.filter {
            ItemFilter::Custom(c) => Some((i.table.clone(), c.fetchxml.clone())),
            _ => None,
        })
        .collect();
    out.push((
        "msdyn_workorder".into(),
        "<filter type='or'><condition attribute='msdyn_timefrompromised' operator='olderthan-x-days' value='60'/>\
         <condition attribute='msdyn_systemstatus' operator='not-in'><value>690970004</value><value>690970005</value></condition>\
         <filter><condition attribute='ownerid' operator='eq-userteams'/><condition attribute='modifiedon' operator='this-week'/></filter></filter>"
            .into(),
    ));
    out
}

/// OData query options over Field Service tables: hand-written, and the sync engine's download filters rendered
/// as OData. `(table, options)`.
pub fn odata_seeds() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = [
        ("msdyn_workorder", "?$select=msdyn_name,msdyn_systemstatus,_msdyn_serviceaccount_value&$filter=statecode eq 0 and (msdyn_systemstatus eq 690970000 or msdyn_systemstatus eq 690970001) and not contains(msdyn_name,'test')&$orderby=msdyn_timefrompromised desc,msdyn_name&$top=50&$count=true"),
        ("msdyn_workorder", "$filter=msdyn_ServiceAccount/name ne null and Microsoft.Dynamics.CRM.Today(PropertyName='msdyn_timefrompromised') or Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue=30)&$expand=msdyn_ServiceAccount($select=name),msdyn_msdyn_workorder_msdyn_workorderproduct_WorkOrder($select=msdyn_name;$filter=msdyn_quantity gt 1.5;$orderby=msdyn_name asc;$top=10)"),
        ("msdyn_workorder", "$filter=msdyn_msdyn_workorder_bookableresourcebooking_WorkOrder/any(b:b/starttime ge 2026-11-27T00:00:00Z and b/endtime le 2026-12-04T00:00:00.000+02:00)&$select=msdyn_name"),
        ("msdyn_workorder", "$filter=Microsoft.Dynamics.CRM.In(PropertyName='msdyn_systemstatus',PropertyValues=['690970000','690970001'])&$filter2=x"),
        ("bookableresourcebooking", "$select=name,starttime,endtime&$filter=Microsoft.Dynamics.CRM.EqualUserId(PropertyName='ownerid') and starttime lt 2026-12-01 and msdyn_workorder eq 3f2504e0-4f89-11d3-9a0c-0305e82c3301&$orderby=starttime"),
        ("account", "$filter=startswith(name,'Contoso%20Ltd') or endswith(name,'''s') or name eq 'a''b' and revenue ge 1000000.5 and numberofemployees lt -5 and createdon gt 2024-01-01&$top=0"),
        ("account", "$expand=contact_customer_accounts($select=fullname;$expand=parentcustomerid_account($select=name))&$select=*"),
        ("contact", "fetchXml=%3Cfetch%20top%3D%225%22%3E%3Centity%20name%3D%22contact%22%3E%3Cattribute%20name%3D%22fullname%22%2F%3E%3C%2Fentity%3E%3C%2Ffetch%3E"),
        ("contact", "fetchXml=<fetch top='5'><entity name='contact'><filter><condition attribute='fullname' operator='like' value='a&amp;b%'/></filter></entity></fetch>"),
    ]
    .iter()
    .map(|(t, o)| (t.to_string(), o.to_string()))
    .collect();
    let (_, plan) = plan();
    for t in plan.tables() {
        if let Some(q) = &t.download {
            if let Ok(o) = query_to_odata(schema(), &q.query) {
                out.push((t.table.clone(), o));
            }
        }
    }
    out
}

/// The shipped profile in the plain JSON form.
pub fn profile_json() -> Value {
    serde_json::from_str(FIELD_SERVICE_PROFILE_JSON).expect("profile JSON")
}

/// The shipped profile in the Dataverse forms: the bundle `{profile, associations}` and the bare row with nested
/// associations.
pub fn profile_dataverse() -> Vec<Value> {
    let (p, _) = plan();
    let d = to_dataverse_json(p, schema()).expect("dataverse form");
    let bundle = d.to_value();
    let mut row = bundle["profile"].clone();
    if let Some(items) = row.get_mut(xrm_offline::profile::ITEMS_NAVIGATION).and_then(Value::as_array_mut) {
        for item in items {
            let id = item.get("mobileofflineprofileitemid").cloned();
            let mine: Vec<Value> = bundle["associations"]
                .as_array()
                .map(|a| {
                    a.iter().filter(|x| x.get("_mobileofflineprofileitemid_value") == id.as_ref()).cloned().collect()
                })
                .unwrap_or_default();
            item[xrm_offline::profile::ASSOCIATIONS_NAVIGATION] = Value::Array(mine);
        }
    }
    vec![bundle, json!({ "value": [row.clone()] }), row]
}

/// EntityDefinitions documents: a few subsets of the shipped schema file (small enough to parse many times) and
/// the whole of it.
pub fn schema_docs() -> Vec<Value> {
    let text = include_str!("../../schema/fieldservice.json");
    let doc: Value = serde_json::from_str(text).expect("schema JSON");
    let all = doc["value"].as_array().cloned().unwrap_or_default();
    let subset = |names: &[&str]| {
        let v: Vec<Value> =
            all.iter().filter(|t| names.contains(&t["LogicalName"].as_str().unwrap_or(""))).cloned().collect();
        json!({ "@odata.context": format!("{BASE}$metadata#EntityDefinitions"), "value": v })
    };
    vec![
        subset(&["account", "contact"]),
        subset(&["msdyn_workorder"]),
        subset(&["bookableresourcebooking", "bookingstatus"]),
        subset(&["msdyn_incidenttype", "product"]),
    ]
}

/// The whole shipped schema document (for the rarer whole-file runs).
pub fn schema_whole() -> Value {
    serde_json::from_str(include_str!("../../schema/fieldservice.json")).expect("schema JSON")
}

/// A recorded collection response and what the client held when it arrived.
#[derive(Clone)]
pub struct RecordedPage {
    /// The table read.
    pub table: String,
    /// The cursor the request was built from.
    pub cursor: Cursor,
    /// The first-sync checkpoint the page answered (`None` for delta and follow-up reads).
    pub checkpoint: Option<Checkpoint>,
    /// The response body.
    pub body: Value,
}

/// Pages and stores recorded from a first sync (page size 4, Dataverse paging cookies and `@odata.nextLink` forms),
/// server-side changes and deletions, then the delta reads and their follow-ups. Also returns the local rows
/// after the first sync (the state hostile pages are applied to).
pub fn recorded() -> &'static (Vec<RecordedPage>, MemoryRows) {
    static R: OnceLock<(Vec<RecordedPage>, MemoryRows)> = OnceLock::new();
    R.get_or_init(|| {
        let (profile, plan) = plan();
        let mut out = Vec::new();
        let mut server = TestServer::new();
        seed(&mut server);
        let mut host = Host::new(profile, schema(), 4);
        for paging_cookies in [true, false] {
            server.fetch_paging_cookies = paging_cookies;
            for t in plan.tables() {
                let mut cp = Checkpoint::new(&t.table);
                // At most 6 pages per table and form: enough of every kind.
                for _ in 0..6 {
                    let Some(req) = cp.next_request(plan, 4).expect("request") else { break };
                    let cursor = cp.cursor().expect("cursor");
                    let (status, body) = server.handle(&req);
                    assert_eq!(status, 200, "{body}");
                    out.push(RecordedPage {
                        table: t.table.clone(),
                        cursor: cursor.clone(),
                        checkpoint: Some(cp.clone()),
                        body: body.clone(),
                    });
                    let page = read_page(&body, &cursor).expect("page");
                    cp = cp.step(plan, &page).expect("step").1;
                }
            }
        }
        server.fetch_paging_cookies = true;
        assert!(host.first_sync(&mut server, usize::MAX), "first sync");
        let local = host.local.clone();
        // Change and delete rows on the server, then record the delta pages.
        let ids: Vec<(String, String)> = server
            .tables
            .iter()
            .flat_map(|(t, rows)| rows.keys().take(3).map(move |id| (t.clone(), id.clone())))
            .collect();
        for (i, (t, id)) in ids.iter().enumerate() {
            if i % 3 == 0 {
                server.delete(t, id);
            } else {
                server.modify(t, id, json!({}));
            }
        }
        for t in plan.tables() {
            let def = schema().table(&t.table).expect("table").clone();
            let Some(link) = host.checkpoints[&t.table].delta_link().map(str::to_string) else { continue };
            let mut cursor = Cursor::Link { url: link };
            for _ in 0..4 {
                let (status, body) = server.handle(&track_changes_request(&def, &cursor, 4));
                assert_eq!(status, 200, "{body}");
                out.push(RecordedPage {
                    table: t.table.clone(),
                    cursor: cursor.clone(),
                    checkpoint: None,
                    body: body.clone(),
                });
                let page = read_page(&body, &cursor).expect("page");
                let changes = plan.apply_delta(&local, &ctx_at(NOW_MS), &t.table, &page).expect("delta");
                for f in changes.follow_ups.iter().take(2) {
                    let (status, body) = server.handle(&f.query.request(&Cursor::Start, 4));
                    if status == 200 {
                        out.push(RecordedPage {
                            table: f.query.table.clone(),
                            cursor: Cursor::Start,
                            checkpoint: None,
                            body,
                        });
                    }
                }
                match page.next {
                    Some(c) => cursor = c,
                    None => break,
                }
            }
        }
        (out, local)
    })
}

/// Single-row and error answers, as the server writes them (recorded from the in-memory server where it
/// produces them, hand-written in the Dataverse shapes otherwise).
pub fn answers() -> Vec<Value> {
    let (pages, _) = recorded();
    let mut out: Vec<Value> = pages
        .iter()
        .filter_map(|p| p.body.get("value").and_then(Value::as_array).and_then(|v| v.first()).cloned())
        .filter(|r| r.as_object().is_some_and(|o| o.len() > 2))
        .take(12)
        .collect();
    let mut server = TestServer::new();
    let (_, body) = server.handle(&xrm_offline::sync::Request::new(xrm_offline::sync::Method::Get, "nosuchset?$top=1"));
    out.push(body);
    out.extend([
        json!({"error": {"code": "0x80040217", "message": "msdyn_workorder With Id = 3f2504e0-4f89-11d3-9a0c-0305e82c3301 Does Not Exist"}}),
        json!({"error": {"code": "0x80040237", "message": "A record with matching key values already exists."}}),
        json!({"error": {"code": "0x80060882", "message": "The version of the existing record doesn't match the RowVersion property provided."}}),
        json!({"error": {"code": "0x80072322", "message": "Number of requests exceeded the limit of 6000 over time window of 300 seconds.",
            "innererror": {"message": "...", "type": "System.ServiceModel.FaultException`1", "stacktrace": "   at ..."}}}),
        json!({"error": {"code": "0x80040220", "message": "Principal user (Id=..., type=8) is missing prvWritemsdyn_workorder privilege"},
            "@Microsoft.PowerApps.CDS.ErrorDetails.OperationStatus": "0", "@Microsoft.PowerApps.CDS.HelpLink": "http://go.microsoft.com/fwlink/?LinkID=398563&error=Microsoft.Crm.CrmException%3a80040220"}),
        json!({"@odata.context": format!("{BASE}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse"),
            "BusinessUnitId": "00000002-0000-4000-8000-000000000001", "UserId": "00000001-0000-4000-8000-000000000001",
            "OrganizationId": "00000009-0000-4000-8000-000000000001"}),
    ]);
    out
}
