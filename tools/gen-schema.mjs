#!/usr/bin/env node
// Writes schema/fieldservice.json: what
//   GET [org]/api/data/v9.2/EntityDefinitions?$expand=Attributes,ManyToOneRelationships,OneToManyRelationships
// returns for the Field Service tables the product ships with (a lean but realistic subset of the columns).
//
// Logical names, entity sets, relationship schema names and navigation property names follow Dataverse and Field
// Service (checked against the public entity reference pages and early-bound classes). MetadataIds are derived from
// the schema name (MD5 formatted as a GUID) so the file is byte-for-byte reproducible.
//
// Usage: node tools/gen-schema.mjs [output path]   (default: schema/fieldservice.json next to this tool)
// Plain Node, no dependencies.

import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ORG = 'https://fieldservice.crm.dynamics.com/api/data/v9.2/';

/** A GUID derived from a name: the same name always gives the same id. */
function guid(kind, name) {
  const h = createHash('md5').update(`${kind}:${name}`).digest('hex');
  // Shape as an RFC 4122 version 3 (name-based MD5) GUID.
  const v = `3${h.slice(13, 16)}`;
  const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16) + h.slice(17, 20);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${v}-${variant}-${h.slice(20, 32)}`;
}

const label = (text) => ({
  LocalizedLabels: [{ Label: text, LanguageCode: 1033 }],
  UserLocalizedLabel: { Label: text, LanguageCode: 1033 },
});

// ---------------------------------------------------------------------------------------------------------------
// Column helpers. Each returns a partial attribute; `table()` completes it.

const text = (name, display, maxLength, opts = {}) => ({ name, display, type: 'String', maxLength, ...opts });
const memo = (name, display, maxLength, opts = {}) => ({ name, display, type: 'Memo', maxLength, ...opts });
const int = (name, display, opts = {}) => ({ name, display, type: 'Integer', ...opts });
const bigint = (name, display, opts = {}) => ({ name, display, type: 'BigInt', ...opts });
const dbl = (name, display, opts = {}) => ({ name, display, type: 'Double', ...opts });
const money = (name, display, opts = {}) => ({ name, display, type: 'Money', ...opts });
const bool = (name, display, opts = {}) => ({ name, display, type: 'Boolean', ...opts });
const date = (name, display, opts = {}) => ({ name, display, type: 'DateTime', format: 'DateAndTime', ...opts });
const dateOnly = (name, display, opts = {}) => ({ name, display, type: 'DateTime', format: 'DateOnly', ...opts });
const lookup = (name, display, targets, opts = {}) => ({ name, display, type: 'Lookup', targets, ...opts });
const customer = (name, display, opts = {}) => ({ name, display, type: 'Customer', targets: ['account', 'contact'], ...opts });
const pick = (name, display, options, opts = {}) => ({ name, display, type: 'Picklist', options, ...opts });
const required = { required: 'ApplicationRequired' };
const system = { required: 'SystemRequired' };
const readOnly = { create: false, update: false };

const ACTIVE_STATE = [[0, 'Active'], [1, 'Inactive']];
const ACTIVE_STATUS = [[1, 'Active'], [2, 'Inactive']];

/** Columns every user-owned table has. */
function userOwned(state = ACTIVE_STATE, status = ACTIVE_STATUS) {
  return [
    { name: 'ownerid', display: 'Owner', type: 'Owner', targets: ['systemuser', 'team'], required: 'SystemRequired' },
    lookup('owninguser', 'Owning User', ['systemuser'], readOnly),
    lookup('owningteam', 'Owning Team', ['team'], readOnly),
    lookup('owningbusinessunit', 'Owning Business Unit', ['businessunit'], readOnly),
    ...audit(),
    { name: 'statecode', display: 'Status', type: 'State', options: state, required: 'SystemRequired', create: false },
    { name: 'statuscode', display: 'Status Reason', type: 'Status', options: status },
  ];
}

/** Created/modified columns and the row version every table has. */
function audit() {
  return [
    date('createdon', 'Created On', readOnly),
    date('modifiedon', 'Modified On', readOnly),
    lookup('createdby', 'Created By', ['systemuser'], readOnly),
    lookup('modifiedby', 'Modified By', ['systemuser'], readOnly),
    bigint('versionnumber', 'Version Number', readOnly),
  ];
}

// ---------------------------------------------------------------------------------------------------------------
// Tables.

const WO_STATUS = [
  [690970000, 'Unscheduled'], [690970001, 'Scheduled'], [690970002, 'In Progress'],
  [690970003, 'Completed'], [690970004, 'Posted'], [690970005, 'Canceled'],
];
const LINE_STATUS = [[690970000, 'Estimated'], [690970001, 'Used']];

const TABLES = [
  {
    name: 'systemuser', set: 'systemusers', display: 'User', plural: 'Users', otc: 8, ownership: 'BusinessOwned',
    custom: false, primaryName: 'fullname',
    columns: [
      text('fullname', 'Full Name', 200, readOnly),
      text('firstname', 'First Name', 64),
      text('lastname', 'Last Name', 64, required),
      text('domainname', 'User Name', 1024, system),
      text('internalemailaddress', 'Primary Email', 100, required),
      text('mobilephone', 'Mobile Phone', 64),
      text('title', 'Title', 128),
      text('azureactivedirectoryobjectid', 'Azure AD Object ID', 100),
      lookup('businessunitid', 'Business Unit', ['businessunit'], system),
      bool('isdisabled', 'Status', { create: false }),
      ...audit(),
    ],
  },
  {
    name: 'team', set: 'teams', display: 'Team', plural: 'Teams', otc: 9, ownership: 'BusinessOwned', custom: false,
    primaryName: 'name',
    columns: [
      text('name', 'Team Name', 160, system),
      lookup('businessunitid', 'Business Unit', ['businessunit'], system),
      lookup('administratorid', 'Administrator', ['systemuser'], system),
      pick('teamtype', 'Team Type', [[0, 'Owner'], [1, 'Access'], [2, 'Security Group'], [3, 'Office Group']], system),
      bool('isdefault', 'Is Default', readOnly),
      memo('description', 'Description', 2000),
      ...audit(),
    ],
  },
  {
    name: 'businessunit', set: 'businessunits', display: 'Business Unit', plural: 'Business Units', otc: 10,
    ownership: 'BusinessOwned', custom: false, primaryName: 'name',
    columns: [
      text('name', 'Name', 160, system),
      lookup('parentbusinessunitid', 'Parent Business', ['businessunit']),
      bool('isdisabled', 'Is Disabled', { create: false }),
      text('address1_city', 'City', 80),
      ...audit(),
    ],
  },
  {
    name: 'account', set: 'accounts', display: 'Account', plural: 'Accounts', otc: 1, ownership: 'UserOwned',
    custom: false, primaryName: 'name',
    columns: [
      text('name', 'Account Name', 160, required),
      text('accountnumber', 'Account Number', 20),
      text('telephone1', 'Main Phone', 50),
      text('emailaddress1', 'Email', 100),
      text('address1_line1', 'Address 1: Street 1', 250),
      text('address1_city', 'Address 1: City', 80),
      text('address1_postalcode', 'Address 1: ZIP/Postal Code', 20),
      text('address1_country', 'Address 1: Country/Region', 80),
      dbl('address1_latitude', 'Address 1: Latitude'),
      dbl('address1_longitude', 'Address 1: Longitude'),
      lookup('primarycontactid', 'Primary Contact', ['contact']),
      lookup('parentaccountid', 'Parent Account', ['account']),
      pick('customertypecode', 'Relationship Type', [[1, 'Competitor'], [3, 'Customer'], [10, 'Vendor'], [12, 'Other']]),
      money('revenue', 'Annual Revenue'),
      int('numberofemployees', 'Number of Employees'),
      memo('description', 'Description', 2000),
      ...userOwned(),
    ],
  },
  {
    name: 'contact', set: 'contacts', display: 'Contact', plural: 'Contacts', otc: 2, ownership: 'UserOwned',
    custom: false, primaryName: 'fullname',
    columns: [
      text('fullname', 'Full Name', 160, readOnly),
      text('firstname', 'First Name', 50),
      text('lastname', 'Last Name', 50, required),
      text('emailaddress1', 'Email', 100),
      text('telephone1', 'Business Phone', 50),
      text('mobilephone', 'Mobile Phone', 50),
      text('jobtitle', 'Job Title', 100),
      customer('parentcustomerid', 'Company Name'),
      text('address1_city', 'Address 1: City', 80),
      dateOnly('birthdate', 'Birthday'),
      ...userOwned(),
    ],
  },
  {
    name: 'product', set: 'products', display: 'Product', plural: 'Products', otc: 1024, ownership: 'OrganizationOwned',
    custom: false, primaryName: 'name',
    columns: [
      text('name', 'Name', 100, system),
      text('productnumber', 'Product ID', 100, system),
      pick('producttypecode', 'Product Type', [[1, 'Sales Inventory'], [2, 'Miscellaneous Charges'], [3, 'Services'], [4, 'Flat Fees']]),
      pick('msdyn_fieldserviceproducttype', 'Field Service Product Type',
        [[690970000, 'Inventory'], [690970001, 'Non-Inventory'], [690970002, 'Service']]),
      money('price', 'List Price'),
      money('standardcost', 'Standard Cost'),
      int('quantitydecimal', 'Decimals Supported', system),
      memo('description', 'Description', 2000),
      ...audit(),
      { name: 'statecode', display: 'Status', type: 'State', required: 'SystemRequired', create: false,
        options: [[0, 'Active'], [1, 'Retired'], [2, 'Draft'], [3, 'Under Revision']] },
      { name: 'statuscode', display: 'Status Reason', type: 'Status',
        options: [[0, 'Draft'], [1, 'Active'], [2, 'Retired'], [3, 'Under Revision']] },
    ],
  },
  {
    name: 'msdyn_incidenttype', set: 'msdyn_incidenttypes', display: 'Incident Type', plural: 'Incident Types',
    otc: 10400, ownership: 'OrganizationOwned', custom: true, primaryName: 'msdyn_name',
    columns: [
      text('msdyn_name', 'Name', 100, required),
      memo('msdyn_description', 'Description', 10000),
      int('msdyn_estimatedduration', 'Estimated Duration'),
      bool('msdyn_copyincidentitemstoagreement', 'Copy Incident Items to Agreement'),
      ...audit(),
      { name: 'statecode', display: 'Status', type: 'State', options: ACTIVE_STATE, required: 'SystemRequired', create: false },
      { name: 'statuscode', display: 'Status Reason', type: 'Status', options: ACTIVE_STATUS },
    ],
  },
  {
    name: 'msdyn_customerasset', set: 'msdyn_customerassets', display: 'Customer Asset', plural: 'Customer Assets',
    otc: 10401, ownership: 'UserOwned', custom: true, primaryName: 'msdyn_name',
    columns: [
      text('msdyn_name', 'Name', 100, required),
      lookup('msdyn_account', 'Account', ['account']),
      lookup('msdyn_product', 'Product', ['product']),
      lookup('msdyn_parentasset', 'Parent Asset', ['msdyn_customerasset']),
      text('msdyn_assettag', 'Asset Tag', 100),
      dbl('msdyn_latitude', 'Latitude'),
      dbl('msdyn_longitude', 'Longitude'),
      ...userOwned(),
    ],
  },
  {
    name: 'msdyn_workorder', set: 'msdyn_workorders', display: 'Work Order', plural: 'Work Orders', otc: 10402,
    ownership: 'UserOwned', custom: true, primaryName: 'msdyn_name',
    columns: [
      text('msdyn_name', 'Work Order Number', 100, required),
      pick('msdyn_systemstatus', 'System Status', WO_STATUS, required),
      lookup('msdyn_serviceaccount', 'Service Account', ['account'], required),
      lookup('msdyn_billingaccount', 'Billing Account', ['account']),
      lookup('msdyn_customerasset', 'Primary Incident Customer Asset', ['msdyn_customerasset']),
      lookup('msdyn_primaryincidenttype', 'Primary Incident Type', ['msdyn_incidenttype']),
      lookup('msdyn_reportedbycontact', 'Reported By Contact', ['contact']),
      memo('msdyn_workordersummary', 'Work Order Summary', 8000),
      memo('msdyn_instructions', 'Instructions', 8000),
      text('msdyn_address1', 'Street 1', 250),
      text('msdyn_city', 'City', 80),
      text('msdyn_postalcode', 'Postal Code', 20),
      text('msdyn_country', 'Country/Region', 80),
      dbl('msdyn_latitude', 'Latitude'),
      dbl('msdyn_longitude', 'Longitude'),
      date('msdyn_timefrompromised', 'Time From Promised'),
      date('msdyn_timetopromised', 'Time To Promised'),
      dateOnly('msdyn_datewindowstart', 'Date Window Start'),
      date('msdyn_completedon', 'Completed On'),
      int('msdyn_totalestimatedduration', 'Total Estimated Duration', readOnly),
      money('msdyn_totalamount', 'Total Amount', readOnly),
      ...userOwned(),
    ],
  },
  {
    name: 'msdyn_workorderproduct', set: 'msdyn_workorderproducts', display: 'Work Order Product',
    plural: 'Work Order Products', otc: 10403, ownership: 'UserOwned', custom: true, primaryName: 'msdyn_name',
    columns: [
      text('msdyn_name', 'Name', 200, required),
      lookup('msdyn_workorder', 'Work Order', ['msdyn_workorder'], required),
      lookup('msdyn_product', 'Product', ['product'], required),
      lookup('msdyn_customerasset', 'Customer Asset', ['msdyn_customerasset']),
      pick('msdyn_linestatus', 'Line Status', LINE_STATUS, required),
      dbl('msdyn_quantity', 'Quantity'),
      dbl('msdyn_estimatequantity', 'Estimate Quantity'),
      money('msdyn_unitamount', 'Unit Amount'),
      money('msdyn_totalamount', 'Total Amount', readOnly),
      memo('msdyn_description', 'Description', 4000),
      ...userOwned(),
    ],
  },
  {
    name: 'msdyn_workorderservice', set: 'msdyn_workorderservices', display: 'Work Order Service',
    plural: 'Work Order Services', otc: 10404, ownership: 'UserOwned', custom: true, primaryName: 'msdyn_name',
    columns: [
      text('msdyn_name', 'Name', 200, required),
      lookup('msdyn_workorder', 'Work Order', ['msdyn_workorder'], required),
      lookup('msdyn_service', 'Service', ['product'], required),
      lookup('msdyn_customerasset', 'Customer Asset', ['msdyn_customerasset']),
      pick('msdyn_linestatus', 'Line Status', LINE_STATUS, required),
      int('msdyn_duration', 'Duration'),
      int('msdyn_estimateduration', 'Estimate Duration'),
      money('msdyn_totalamount', 'Total Amount', readOnly),
      memo('msdyn_description', 'Description', 4000),
      ...userOwned(),
    ],
  },
  {
    name: 'msdyn_workorderservicetask', set: 'msdyn_workorderservicetasks', display: 'Work Order Service Task',
    plural: 'Work Order Service Tasks', otc: 10405, ownership: 'UserOwned', custom: true, primaryName: 'msdyn_name',
    columns: [
      text('msdyn_name', 'Name', 200, required),
      lookup('msdyn_workorder', 'Work Order', ['msdyn_workorder'], required),
      lookup('msdyn_customerasset', 'Customer Asset', ['msdyn_customerasset']),
      dbl('msdyn_percentcomplete', '% Complete'),
      int('msdyn_estimatedduration', 'Estimated Duration'),
      int('msdyn_actualduration', 'Actual Duration'),
      int('msdyn_lineorder', 'Line Order'),
      memo('msdyn_description', 'Description', 4000),
      ...userOwned(),
    ],
  },
  {
    name: 'bookableresource', set: 'bookableresources', display: 'Bookable Resource', plural: 'Bookable Resources',
    otc: 1150, ownership: 'UserOwned', custom: false, primaryName: 'name',
    columns: [
      text('name', 'Name', 100, required),
      pick('resourcetype', 'Resource Type', [[1, 'Generic'], [2, 'Contact'], [3, 'User'], [4, 'Equipment'],
        [5, 'Account'], [6, 'Crew'], [7, 'Facility'], [8, 'Pool']], required),
      lookup('userid', 'User', ['systemuser']),
      lookup('contactid', 'Contact', ['contact']),
      lookup('accountid', 'Account', ['account']),
      int('timezone', 'Time Zone'),
      text('msdyn_primaryemail', 'Primary Email', 100),
      ...userOwned(),
    ],
  },
  {
    name: 'bookingstatus', set: 'bookingstatuses', display: 'Booking Status', plural: 'Booking Statuses', otc: 1154,
    ownership: 'UserOwned', custom: false, primaryName: 'name',
    columns: [
      text('name', 'Name', 100, required),
      pick('status', 'Status', [[1, 'Proposed'], [2, 'Committed'], [3, 'Canceled']], required),
      pick('msdyn_fieldservicestatus', 'Field Service Status', [[690970000, 'Scheduled'], [690970001, 'Traveling'],
        [690970002, 'In Progress'], [690970003, 'On Break'], [690970004, 'Completed'], [690970005, 'Canceled']]),
      text('msdyn_statuscolor', 'Status Color', 7),
      memo('description', 'Description', 2000),
      ...userOwned(),
    ],
  },
  {
    name: 'bookableresourcebooking', set: 'bookableresourcebookings', display: 'Bookable Resource Booking',
    plural: 'Bookable Resource Bookings', otc: 1145, ownership: 'UserOwned', custom: false, primaryName: 'name',
    columns: [
      text('name', 'Name', 100, required),
      date('starttime', 'Start Time', required),
      date('endtime', 'End Time', required),
      int('duration', 'Duration'),
      lookup('resource', 'Resource', ['bookableresource'], required),
      lookup('bookingstatus', 'Booking Status', ['bookingstatus'], required),
      pick('bookingtype', 'Booking Type', [[1, 'Solid'], [2, 'Liquid']], required),
      lookup('msdyn_workorder', 'Work Order', ['msdyn_workorder']),
      date('msdyn_estimatedarrivaltime', 'Estimated Arrival Time'),
      date('msdyn_actualarrivaltime', 'Actual Arrival Time'),
      int('msdyn_estimatedtravelduration', 'Estimated Travel Duration'),
      int('msdyn_actualtravelduration', 'Actual Travel Duration'),
      memo('msdyn_bookingmethod_notes', 'Booking Notes', 4000),
      ...userOwned(),
    ],
  },
  // Not offline-capable in Field Service: purchase orders, agreements, RTV, RMA.
  {
    name: 'msdyn_purchaseorder', set: 'msdyn_purchaseorders', display: 'Purchase Order', plural: 'Purchase Orders',
    otc: 10406, ownership: 'UserOwned', custom: true, primaryName: 'msdyn_name', offline: false,
    columns: [
      text('msdyn_name', 'Purchase Order Number', 100, required),
      lookup('msdyn_vendor', 'Vendor', ['account'], required),
      lookup('msdyn_workorder', 'Work Order', ['msdyn_workorder']),
      pick('msdyn_systemstatus', 'System Status', [[690970000, 'Draft'], [690970001, 'Submitted'],
        [690970002, 'Canceled'], [690970003, 'Products Received'], [690970004, 'Billed']], required),
      dateOnly('msdyn_purchaseorderdate', 'Purchase Order Date'),
      money('msdyn_totalamount', 'Total Amount', readOnly),
      ...userOwned(),
    ],
  },
  {
    name: 'msdyn_agreement', set: 'msdyn_agreements', display: 'Agreement', plural: 'Agreements', otc: 10407,
    ownership: 'UserOwned', custom: true, primaryName: 'msdyn_name', offline: false,
    columns: [
      text('msdyn_name', 'Agreement Number', 100, required),
      lookup('msdyn_serviceaccount', 'Service Account', ['account'], required),
      lookup('msdyn_billingaccount', 'Billing Account', ['account'], required),
      dateOnly('msdyn_startdate', 'Start Date', required),
      dateOnly('msdyn_enddate', 'End Date', required),
      pick('msdyn_systemstatus', 'System Status', [[690970000, 'Estimate'], [690970001, 'Active'],
        [690970002, 'Expired'], [690970003, 'Canceled']], required),
      ...userOwned(),
    ],
  },
  {
    name: 'msdyn_rma', set: 'msdyn_rmas', display: 'RMA', plural: 'RMAs', otc: 10408, ownership: 'UserOwned',
    custom: true, primaryName: 'msdyn_name', offline: false,
    columns: [
      text('msdyn_name', 'Name', 100, required),
      lookup('msdyn_serviceaccount', 'Service Account', ['account']),
      lookup('msdyn_workorder', 'Work Order', ['msdyn_workorder']),
      pick('msdyn_systemstatus', 'System Status', [[690970000, 'Draft'], [690970001, 'Approved'],
        [690970002, 'Received'], [690970003, 'Canceled']], required),
      ...userOwned(),
    ],
  },
  {
    name: 'msdyn_rtv', set: 'msdyn_rtvs', display: 'RTV', plural: 'RTVs', otc: 10409, ownership: 'UserOwned',
    custom: true, primaryName: 'msdyn_name', offline: false,
    columns: [
      text('msdyn_name', 'Name', 100, required),
      lookup('msdyn_vendor', 'Vendor', ['account']),
      lookup('msdyn_originatingrma', 'Originating RMA', ['msdyn_rma']),
      pick('msdyn_systemstatus', 'System Status', [[690970000, 'Draft'], [690970001, 'Approved'],
        [690970002, 'Shipped'], [690970003, 'Received'], [690970004, 'Canceled']], required),
      ...userOwned(),
    ],
  },
];

// ---------------------------------------------------------------------------------------------------------------
// Relationships: [schema name, referenced (one) table, referencing (many) table, lookup column, single-valued
// navigation property on the referencing side]. The collection-valued navigation property on the referenced side is
// the schema name, as in Dataverse.

const RELATIONSHIPS = [
  // Core.
  ['business_unit_system_users', 'businessunit', 'systemuser', 'businessunitid', 'businessunitid'],
  ['business_unit_teams', 'businessunit', 'team', 'businessunitid', 'businessunitid'],
  ['lk_teambase_administratorid', 'systemuser', 'team', 'administratorid', 'administratorid'],
  ['business_unit_parent_business_unit', 'businessunit', 'businessunit', 'parentbusinessunitid', 'parentbusinessunitid'],
  ['account_primary_contact', 'contact', 'account', 'primarycontactid', 'primarycontactid'],
  ['account_parent_account', 'account', 'account', 'parentaccountid', 'parentaccountid'],
  ['contact_customer_accounts', 'account', 'contact', 'parentcustomerid', 'parentcustomerid_account'],
  ['contact_customer_contacts', 'contact', 'contact', 'parentcustomerid', 'parentcustomerid_contact'],
  // Field Service.
  ['msdyn_product_msdyn_customerasset_Product', 'product', 'msdyn_customerasset', 'msdyn_product', 'msdyn_Product'],
  ['msdyn_account_msdyn_customerasset_Account', 'account', 'msdyn_customerasset', 'msdyn_account', 'msdyn_Account'],
  ['msdyn_msdyn_customerasset_msdyn_customerasset_ParentAsset', 'msdyn_customerasset', 'msdyn_customerasset',
    'msdyn_parentasset', 'msdyn_ParentAsset'],
  ['msdyn_account_msdyn_workorder_ServiceAccount', 'account', 'msdyn_workorder', 'msdyn_serviceaccount',
    'msdyn_ServiceAccount'],
  ['msdyn_account_msdyn_workorder_BillingAccount', 'account', 'msdyn_workorder', 'msdyn_billingaccount',
    'msdyn_BillingAccount'],
  ['msdyn_msdyn_customerasset_msdyn_workorder_CustomerAsset', 'msdyn_customerasset', 'msdyn_workorder',
    'msdyn_customerasset', 'msdyn_CustomerAsset'],
  ['msdyn_msdyn_incidenttype_msdyn_workorder_PrimaryIncidentType', 'msdyn_incidenttype', 'msdyn_workorder',
    'msdyn_primaryincidenttype', 'msdyn_PrimaryIncidentType'],
  ['msdyn_contact_msdyn_workorder_ReportedByContact', 'contact', 'msdyn_workorder', 'msdyn_reportedbycontact',
    'msdyn_ReportedByContact'],
  ['msdyn_msdyn_workorder_msdyn_workorderproduct_WorkOrder', 'msdyn_workorder', 'msdyn_workorderproduct',
    'msdyn_workorder', 'msdyn_WorkOrder'],
  ['msdyn_product_msdyn_workorderproduct_Product', 'product', 'msdyn_workorderproduct', 'msdyn_product', 'msdyn_Product'],
  ['msdyn_msdyn_customerasset_msdyn_workorderproduct_CustomerAsset', 'msdyn_customerasset', 'msdyn_workorderproduct',
    'msdyn_customerasset', 'msdyn_CustomerAsset'],
  ['msdyn_msdyn_workorder_msdyn_workorderservice_WorkOrder', 'msdyn_workorder', 'msdyn_workorderservice',
    'msdyn_workorder', 'msdyn_WorkOrder'],
  ['msdyn_product_msdyn_workorderservice_Service', 'product', 'msdyn_workorderservice', 'msdyn_service', 'msdyn_Service'],
  ['msdyn_msdyn_customerasset_msdyn_workorderservice_CustomerAsset', 'msdyn_customerasset', 'msdyn_workorderservice',
    'msdyn_customerasset', 'msdyn_CustomerAsset'],
  ['msdyn_msdyn_workorder_msdyn_workorderservicetask_WorkOrder', 'msdyn_workorder', 'msdyn_workorderservicetask',
    'msdyn_workorder', 'msdyn_WorkOrder'],
  ['msdyn_msdyn_customerasset_msdyn_workorderservicetask_CustomerAsset', 'msdyn_customerasset',
    'msdyn_workorderservicetask', 'msdyn_customerasset', 'msdyn_CustomerAsset'],
  ['systemuser_bookableresource_UserId', 'systemuser', 'bookableresource', 'userid', 'UserId'],
  ['contact_bookableresource_ContactId', 'contact', 'bookableresource', 'contactid', 'ContactId'],
  ['account_bookableresource_AccountId', 'account', 'bookableresource', 'accountid', 'AccountId'],
  ['bookableresource_bookableresourcebooking_Resource', 'bookableresource', 'bookableresourcebooking', 'resource',
    'Resource'],
  ['bookingstatus_bookableresourcebooking_BookingStatus', 'bookingstatus', 'bookableresourcebooking', 'bookingstatus',
    'BookingStatus'],
  ['msdyn_msdyn_workorder_bookableresourcebooking_WorkOrder', 'msdyn_workorder', 'bookableresourcebooking',
    'msdyn_workorder', 'msdyn_WorkOrder'],
  // Not offline-capable tables.
  ['msdyn_account_msdyn_purchaseorder_Vendor', 'account', 'msdyn_purchaseorder', 'msdyn_vendor', 'msdyn_Vendor'],
  ['msdyn_msdyn_workorder_msdyn_purchaseorder_WorkOrder', 'msdyn_workorder', 'msdyn_purchaseorder', 'msdyn_workorder',
    'msdyn_WorkOrder'],
  ['msdyn_account_msdyn_agreement_ServiceAccount', 'account', 'msdyn_agreement', 'msdyn_serviceaccount',
    'msdyn_ServiceAccount'],
  ['msdyn_account_msdyn_agreement_BillingAccount', 'account', 'msdyn_agreement', 'msdyn_billingaccount',
    'msdyn_BillingAccount'],
  ['msdyn_account_msdyn_rma_ServiceAccount', 'account', 'msdyn_rma', 'msdyn_serviceaccount', 'msdyn_ServiceAccount'],
  ['msdyn_msdyn_workorder_msdyn_rma_WorkOrder', 'msdyn_workorder', 'msdyn_rma', 'msdyn_workorder', 'msdyn_WorkOrder'],
  ['msdyn_account_msdyn_rtv_Vendor', 'account', 'msdyn_rtv', 'msdyn_vendor', 'msdyn_Vendor'],
  ['msdyn_msdyn_rma_msdyn_rtv_OriginatingRMA', 'msdyn_rma', 'msdyn_rtv', 'msdyn_originatingrma', 'msdyn_OriginatingRMA'],
];

// The system relationships every table has (created by / modified by; owning user / team / business unit).
// Dataverse names a few of them after the table's "base" name (accountbase, contactbase, teambase...).
const BASE_NAME = { account: 'accountbase', contact: 'contactbase', team: 'teambase', businessunit: 'businessunitbase' };
const OWNER_REL = {
  account: ['user_accounts', 'team_accounts', 'business_unit_accounts'],
  contact: ['contact_owning_user', 'team_contacts', 'business_unit_contacts'],
};
for (const t of TABLES) {
  const base = BASE_NAME[t.name] ?? t.name;
  RELATIONSHIPS.push([`lk_${base}_createdby`, 'systemuser', t.name, 'createdby', 'createdby']);
  RELATIONSHIPS.push([`lk_${base}_modifiedby`, 'systemuser', t.name, 'modifiedby', 'modifiedby']);
  if (t.ownership === 'UserOwned') {
    const [user, team, bu] = OWNER_REL[t.name] ?? [`user_${t.name}`, `team_${t.name}`, `business_unit_${t.name}`];
    RELATIONSHIPS.push([user, 'systemuser', t.name, 'owninguser', 'owninguser']);
    RELATIONSHIPS.push([team, 'team', t.name, 'owningteam', 'owningteam']);
    RELATIONSHIPS.push([bu, 'businessunit', t.name, 'owningbusinessunit', 'owningbusinessunit']);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Output.

const ODATA_TYPE = {
  Uniqueidentifier: 'UniqueIdentifierAttributeMetadata', String: 'StringAttributeMetadata',
  Memo: 'MemoAttributeMetadata', Integer: 'IntegerAttributeMetadata', BigInt: 'BigIntAttributeMetadata',
  Double: 'DoubleAttributeMetadata', Money: 'MoneyAttributeMetadata', Boolean: 'BooleanAttributeMetadata',
  DateTime: 'DateTimeAttributeMetadata', Lookup: 'LookupAttributeMetadata', Customer: 'LookupAttributeMetadata',
  Owner: 'LookupAttributeMetadata', Picklist: 'PicklistAttributeMetadata', State: 'StateAttributeMetadata',
  Status: 'StatusAttributeMetadata',
};

function schemaName(logical) {
  // Dataverse schema names are the logical name with the publisher-prefix-less part capitalised; good enough here.
  return logical.replace(/^(msdyn_)?(.)/, (_, p, c) => (p ?? '') + c.toUpperCase());
}

function attribute(table, col, extra = {}) {
  const a = {
    '@odata.type': `#Microsoft.Dynamics.CRM.${ODATA_TYPE[col.type]}`,
    MetadataId: guid('attribute', `${table.name}.${col.name}`),
    LogicalName: col.name,
    SchemaName: schemaName(col.name),
    EntityLogicalName: table.name,
    AttributeType: col.type,
    AttributeTypeName: { Value: `${col.type}Type` },
    DisplayName: label(col.display),
    IsCustomAttribute: col.name.startsWith('msdyn_'),
    IsPrimaryId: false,
    IsPrimaryName: col.name === table.primaryName,
    IsValidForCreate: col.create ?? true,
    IsValidForUpdate: col.update ?? true,
    IsValidForRead: true,
    RequiredLevel: { Value: col.required ?? 'None', CanBeChanged: !col.required, ManagedPropertyLogicalName: 'canmodifyrequirementlevelsettings' },
    ...extra,
  };
  if (col.type === 'String') Object.assign(a, { MaxLength: col.maxLength, Format: 'Text' });
  if (col.type === 'Memo') Object.assign(a, { MaxLength: col.maxLength, Format: 'TextArea' });
  if (col.type === 'DateTime') Object.assign(a, { Format: col.format, DateTimeBehavior: { Value: col.format === 'DateOnly' ? 'DateOnly' : 'UserLocal' } });
  if (col.type === 'Integer') Object.assign(a, { MinValue: -2147483648, MaxValue: 2147483647, Format: 'None' });
  if (col.type === 'BigInt') Object.assign(a, { MinValue: -9223372036854775808n.toString(), MaxValue: '9223372036854775807' });
  if (col.type === 'Double') Object.assign(a, { MinValue: -100000000000, MaxValue: 100000000000, Precision: 5 });
  if (col.type === 'Money') Object.assign(a, { MinValue: -922337203685477, MaxValue: 922337203685477, Precision: 2 });
  if (col.targets) a.Targets = col.targets;
  if (col.options) {
    a.OptionSet = {
      MetadataId: guid('optionset', `${table.name}.${col.name}`),
      Name: `${table.name}_${col.name}`,
      IsGlobal: false,
      OptionSetType: col.type,
      Options: col.options.map(([value, text]) => ({ Value: value, Label: label(text) })),
    };
  }
  if (col.type === 'Boolean') {
    a.OptionSet = {
      MetadataId: guid('optionset', `${table.name}.${col.name}`),
      Name: `${table.name}_${col.name}`,
      OptionSetType: 'Boolean',
      TrueOption: { Value: 1, Label: label('Yes') },
      FalseOption: { Value: 0, Label: label('No') },
    };
  }
  return a;
}

function relationship(rel) {
  const [name, referenced, referencing, attr, nav] = rel;
  const referencedTable = TABLES.find((t) => t.name === referenced);
  return {
    '@odata.type': '#Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata',
    MetadataId: guid('relationship', name),
    SchemaName: name,
    RelationshipType: 'OneToManyRelationship',
    IsCustomRelationship: name.startsWith('msdyn_'),
    ReferencedEntity: referenced,
    ReferencedAttribute: `${referencedTable.name}id`,
    ReferencingEntity: referencing,
    ReferencingAttribute: attr,
    ReferencedEntityNavigationPropertyName: name,
    ReferencingEntityNavigationPropertyName: nav,
    IsHierarchical: referenced === referencing,
    CascadeConfiguration: {
      Assign: 'NoCascade', Delete: 'RemoveLink', Merge: 'NoCascade',
      Reparent: 'NoCascade', Share: 'NoCascade', Unshare: 'NoCascade', RollupView: 'NoCascade',
    },
  };
}

function check() {
  const names = new Set(TABLES.map((t) => t.name));
  const seen = new Set();
  for (const r of RELATIONSHIPS) {
    const [name, referenced, referencing, attr] = r;
    if (seen.has(name)) throw new Error(`duplicate relationship ${name}`);
    seen.add(name);
    if (!names.has(referenced) || !names.has(referencing)) throw new Error(`relationship ${name}: unknown table`);
    const col = TABLES.find((t) => t.name === referencing).columns.find((c) => c.name === attr);
    if (!col || !col.targets?.includes(referenced)) throw new Error(`relationship ${name}: ${referencing}.${attr} does not target ${referenced}`);
  }
  for (const t of TABLES) {
    for (const c of t.columns) {
      for (const target of c.targets ?? []) {
        if (!names.has(target)) throw new Error(`${t.name}.${c.name}: unknown target ${target}`);
        if (c.type !== 'Owner' && !RELATIONSHIPS.some((r) => r[2] === t.name && r[3] === c.name && r[1] === target)) {
          throw new Error(`${t.name}.${c.name} -> ${target}: no relationship`);
        }
      }
    }
  }
}

function entity(t) {
  const id = `${t.name}id`;
  const columns = [
    { name: id, display: t.display, type: 'Uniqueidentifier', required: 'SystemRequired', update: false },
    ...t.columns,
  ];
  return {
    '@odata.type': '#Microsoft.Dynamics.CRM.EntityMetadata',
    MetadataId: guid('entity', t.name),
    LogicalName: t.name,
    SchemaName: t.custom ? schemaName(t.name) : t.name === 'bookableresourcebooking' ? 'BookableResourceBooking' : schemaName(t.name),
    EntitySetName: t.set,
    LogicalCollectionName: t.set,
    DisplayName: label(t.display),
    DisplayCollectionName: label(t.plural),
    ObjectTypeCode: t.otc,
    OwnershipType: t.ownership,
    PrimaryIdAttribute: id,
    PrimaryNameAttribute: t.primaryName,
    IsCustomEntity: t.custom,
    IsActivity: false,
    IsAvailableOffline: t.offline ?? true,
    ChangeTrackingEnabled: true,
    IsValidForAdvancedFind: true,
    Attributes: columns.map((c) => attribute(t, c, c.name === id ? { IsPrimaryId: true } : {})),
    ManyToOneRelationships: RELATIONSHIPS.filter((r) => r[2] === t.name).map(relationship),
    OneToManyRelationships: RELATIONSHIPS.filter((r) => r[1] === t.name).map(relationship),
  };
}

check();
const doc = {
  '@odata.context': `${ORG}$metadata#EntityDefinitions(Attributes(),ManyToOneRelationships(),OneToManyRelationships())`,
  value: TABLES.map(entity),
};
const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] ?? join(here, '..', 'schema', 'fieldservice.json');
// Compact (the engine embeds this file), one table per line so diffs stay readable.
const body = doc.value.map((t) => JSON.stringify(t)).join(',\n');
writeFileSync(out, `{"@odata.context":${JSON.stringify(doc['@odata.context'])},"value":[\n${body}\n]}\n`);
console.log(`wrote ${out}: ${doc.value.length} tables, ${RELATIONSHIPS.length} relationships`);
