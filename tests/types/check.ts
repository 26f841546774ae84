// Type checks (tsc --noEmit, run by tests/js/types.test.mjs): the package's types are usable and fit the
// Microsoft types that PCF and web-resource developers already use.
/// <reference types="xrm" />
/// <reference types="powerapps-component-framework" />
import {
  XrmOffline,
  createEngine,
  lintProfile,
  type HookQueueEntry,
  type HookStatus,
  type SyncErrorRecord,
  type SyncReport,
  type SyncStatus,
  type XrmOfflineError,
} from "xrm-offline";

async function main(): Promise<void> {
  const client = await XrmOffline.open({
    serverUrl: "https://org.crm.dynamics.com",
    profile: "Field Service Mobile - Offline Profile",
    getAccessToken: async () => "token",
    conflictPolicy: "clientWins",
  });

  // pcfWebApi is a ComponentFramework.WebApi.
  const pcf: ComponentFramework.WebApi = client.pcfWebApi;
  const created: ComponentFramework.LookupValue = await pcf.createRecord("account", { name: "x" });
  const page: ComponentFramework.WebApi.RetrieveMultipleResponse = await pcf.retrieveMultipleRecords("account", "?$top=1");

  // Results fit the Xrm result types.
  const many: Xrm.RetrieveMultipleResult = await client.WebApi.offline.retrieveMultipleRecords("account", "?$top=5", 10);
  const offline: boolean = client.WebApi.offline.isAvailableOffline("account");
  const state: "Online" | "Offline" = client.Utility.getGlobalContext().client.getClientState();

  // installGlobal gives scripts the Xrm they are typed against.
  const x = client.installGlobal();
  const res: Response = await x.WebApi.online.execute({
    getMetadata: () => ({ boundParameter: null, operationName: "WhoAmI", operationType: 1, parameterTypes: {} }),
  });

  try {
    await client.WebApi.offline.retrieveRecord("account", "00000000-0000-0000-0000-000000000000");
  } catch (e) {
    const err = e as XrmOfflineError;
    const code: number = err.errorCode;
    void code;
  }

  // The types are precise, not `any`: misuse is a compile error (an unused @ts-expect-error fails the check).
  // @ts-expect-error the table is a logical name string
  await client.WebApi.createRecord(42, {});
  // @ts-expect-error getClientState is "Online" | "Offline"
  const wrong: "Connected" = client.Utility.getGlobalContext().client.getClientState();
  // @ts-expect-error isAvailableOffline is synchronous, as in Xrm
  await client.WebApi.offline.isAvailableOffline("account").then(() => 0);
  void wrong;

  // Sync: reports, status, errors, and a resolver as the conflict policy.
  const pass: SyncReport = await client.sync.now();
  const status: SyncStatus = await client.sync.status();
  const errors: SyncErrorRecord[] = await client.sync.errors();
  if (errors[0]) await client.sync.retry(errors[0].syncerrorid);
  const off = client.sync.on("progress", (e) => void e.tablesDone);
  off();
  await XrmOffline.open({
    serverUrl: "https://org.crm.dynamics.com",
    getAccessToken: () => "t",
    conflictPolicy: async (local, server) => ({ ...server, ...local.changes }),
  });
  void [pass.downloaded, status.state];

  // Hooks: a pre hook that validates, a post hook that writes, online work that queues or fails fast.
  const unregister = client.hooks.register("validateStatus", {
    table: "msdyn_workorder",
    message: "Update",
    stage: "pre",
    handler: async (ctx) => {
      const before = await ctx.getPreImage();
      if (ctx.target?.msdyn_systemstatus === 690970003 && !before.msdyn_workordersummary) throw new Error("add a completion note");
    },
  });
  unregister();
  client.hooks.register("createTask", {
    table: "msdyn_workorder",
    message: "Update",
    stage: "post",
    handler: async (ctx) => {
      const prev: number | undefined = ctx.previous?.msdyn_systemstatus;
      await ctx.WebApi.createRecord("msdyn_workorderservicetask", { msdyn_name: `after ${prev}` });
    },
  });
  // @ts-expect-error the stage is "pre" or "post"
  client.hooks.register("bad", { table: "account", message: "Create", stage: "after", handler: () => {} });
  // @ts-expect-error the message is Create, Update or Delete
  client.hooks.register("bad", { table: "account", message: "Upsert", stage: "pre", handler: () => {} });
  const complete = {
    WorkOrderId: "00000000-0000-0000-0000-000000000000",
    getMetadata: () => ({ boundParameter: null, operationName: "msdyn_CompleteWorkOrder", operationType: 0 as const, parameterTypes: {} }),
  };
  const queuedRes: Response = await client.WebApi.online.execute(complete);
  const fast: Response = await client.WebApi.online.execute(complete, { failFast: true });
  const queued: { id: number; name: string } = await client.hooks.enqueueOnline(complete);
  const hookStatus: HookStatus = await client.hooks.status();
  const dead: HookQueueEntry[] = await client.hooks.failed();
  if (dead[0]) await client.hooks.retry(dead[0].id);
  client.hooks.on("deadLetter", (e) => void e.lastError?.message);
  client.hooks.on("result", (e) => void e.value);
  const queuedInStatus: number = status.hooks.onlineQueued;
  const onlineRun = pass.online?.waiting;
  void [queuedRes, fast, queued, hookStatus, queuedInStatus, onlineRun];

  const engine = await createEngine();
  const tables: string[] = engine.tables();
  const report = await lintProfile({ name: "p", items: [{ table: "account", filter: "all" }] });
  void [created, page, many, offline, state, res, tables, report.warnings.length];
}

void main;
