//! The platform's limits, each stated once (docs/wire.md §1): every crate that paces, plans,
//! schedules or emulates reads them here (`Action::qps` gives each call its rate).

/// At most this many device and product distribution jobs of one account in status 0 or 1
/// (initializing, running) at once.
pub const MAX_JOBS_IN_FLIGHT: usize = 10;

/// At most this many devices in one CreateDeviceDistributeJob.
pub const MAX_DEVICES_PER_JOB: usize = 10_000;

/// The largest `PageSize` ListDeviceDistributeJob accepts.
pub const MAX_PAGE_SIZE: u32 = 200;

/// CreateDeviceDistributeJob and DeleteDeviceDistributeJob, calls per second per account.
pub const CREATE_QPS: f64 = 2.0;
/// QueryDeviceDistributeJob, calls per second per account.
pub const QUERY_QPS: f64 = 10.0;
/// QueryDeviceDistributeDetail and ListDeviceDistributeJob, calls per second per account.
pub const DETAIL_AND_LIST_QPS: f64 = 5.0;
/// QueryDeviceProvisioning, calls per second per account.
pub const PROVISIONING_QPS: f64 = 50.0;

/// QueryProductList, calls per second per account (shallow pages).
pub const QUERY_PRODUCT_LIST_QPS: f64 = 50.0;
/// QueryDevice, calls per second per account (shallow pages).
pub const QUERY_DEVICE_QPS: f64 = 50.0;
/// BatchQueryDeviceDetail, calls per second per account.
pub const BATCH_DETAIL_QPS: f64 = 5.0;
/// GetThingTopo, calls per second per account.
pub const THING_TOPO_QPS: f64 = 500.0;
/// ListDistributedDevice and ListDistributedProduct, calls per second per account (200 across
/// all accounts).
pub const DISTRIBUTED_LIST_QPS: f64 = 5.0;

/// A page of QueryProductList or QueryDevice is deep when `CurrentPage × PageSize` is at least
/// this: it is then under [`DEEP_PAGE_QPS`] (`api::Lane`).
pub const DEEP_PAGE_ROWS: u64 = 100_000;
/// Calls per second per account of deep pages.
pub const DEEP_PAGE_QPS: f64 = 2.0;

/// The `PageSize` of a read API's call that names none.
pub const DEFAULT_PAGE_SIZE: u32 = 10;
/// The largest `PageSize` of QueryProductList.
pub const MAX_PRODUCT_PAGE_SIZE: u32 = 200;
/// The largest `PageSize` of QueryDevice.
pub const MAX_DEVICE_PAGE_SIZE: u32 = 50;
/// QueryDevice by `CurrentPage` reaches this many rows (`CurrentPage × PageSize`); further
/// pages need the `NextToken` of the page before.
pub const MAX_CURRENT_PAGE_ROWS: u64 = 10_000;
/// At most this many devices QueryDevice lists of one product.
pub const MAX_LISTED_DEVICES: u64 = 1_000_000;
/// At most this many names in one BatchQueryDeviceDetail.
pub const MAX_DETAIL_NAMES: usize = 100;
/// The largest `PageSize` of GetThingTopo.
pub const MAX_TOPO_PAGE_SIZE: u32 = 50;
/// The largest `PageSize` of ListDistributedDevice and ListDistributedProduct.
pub const MAX_DISTRIBUTED_PAGE_SIZE: u32 = 200;
