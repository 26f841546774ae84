// The demo's first screens on the built package: sign in as a seeded technician, then the agenda from Xrm.WebApi.
// (The full field app — work orders, offline status, sync — grows here with the sync engine.)
import { XrmOffline } from "/pkg/index.js";

const TECHNICIANS = [
  { name: "Toni North", token: "tech1-token" },
  { name: "Theo North", token: "tech2-token" },
  { name: "Tara South", token: "tech3-token" },
  { name: "Tom South", token: "tech4-token" },
];

const $ = (id) => document.getElementById(id);

function showError(e) {
  $("error").hidden = false;
  $("error").textContent = `${e.message}${e.errorCode ? ` (errorCode ${e.errorCode})` : ""}`;
}

function renderState(client) {
  const c = client.Utility.getGlobalContext().client;
  $("state").textContent = c.isNetworkAvailable() ? `connected · ${c.getClientState()}` : "not connected · Offline";
}

async function loadAgenda(client) {
  const who = client.Utility.getGlobalContext().userSettings.userId.replace(/[{}]/g, "");
  const fetch = `<fetch><entity name="bookableresourcebooking"><attribute name="name"/><attribute name="starttime"/><attribute name="endtime"/><attribute name="bookingstatus"/><attribute name="msdyn_workorder"/><order attribute="starttime"/><filter type="or"><condition attribute="starttime" operator="today"/><condition attribute="starttime" operator="next-seven-days"/></filter><link-entity name="bookableresource" from="bookableresourceid" to="resource" link-type="inner"><filter><condition attribute="userid" operator="eq" value="${who}"/></filter></link-entity></entity></fetch>`;
  const { entities } = await client.WebApi.retrieveMultipleRecords("bookableresourcebooking", `?fetchXml=${encodeURIComponent(fetch)}`);
  const list = $("bookings");
  list.replaceChildren();
  for (const b of entities) {
    const li = document.createElement("li");
    const when = new Date(b.starttime).toLocaleString([], { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
    const status = b["_bookingstatus_value@OData.Community.Display.V1.FormattedValue"] ?? "";
    const wo = b["_msdyn_workorder_value@OData.Community.Display.V1.FormattedValue"] ?? "";
    li.innerHTML = `<div class="when"></div><div class="what"></div><div class="muted"></div>`;
    li.children[0].textContent = when;
    li.children[1].textContent = b.name ?? "(no name)";
    li.children[2].textContent = [status, wo].filter(Boolean).join(" · ");
    list.append(li);
  }
  $("agenda-source").textContent = `${entities.length} bookings, answered ${client.isOfflineMode() ? "from this device" : "by the server"}.`;
}

async function signIn(tech) {
  $("error").hidden = true;
  try {
    const client = await XrmOffline.open({ serverUrl: location.origin, getAccessToken: () => tech.token });
    client.installGlobal();
    $("signin").hidden = true;
    $("agenda").hidden = false;
    $("cut").disabled = false;
    $("cut").onchange = async () => {
      await client.setNetworkCutOff($("cut").checked);
      renderState(client);
      loadAgenda(client).catch(showError);
    };
    client.network.listeners.add(() => renderState(client));
    renderState(client);
    await loadAgenda(client);
  } catch (e) {
    showError(e);
  }
}

for (const tech of TECHNICIANS) {
  const li = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = tech.name;
  button.onclick = () => signIn(tech);
  li.append(button);
  $("users").append(li);
}
