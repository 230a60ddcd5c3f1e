//! The instance catalog: the six public instances built in, plus the Enterprise instances an
//! operator lists in `instances.csv` (docs/inputs.md §4).

use rustc_hash::FxHashMap as HashMap;
use std::path::{Path, PathBuf};

use devdist_formats::{CatalogRow, Error as FormatError, Position, read_catalog};

/// Public instances and their regions (docs/inputs.md §4.2).
pub const PUBLIC_INSTANCES: [(&str, &str); 6] = [
    ("iotx-oxssharez200", "cn-shanghai"),
    ("iotx-oxssharez300", "ap-northeast-1"),
    ("iotx-oxssharez400", "ap-southeast-1"),
    ("iotx-oxssharez500", "us-west-1"),
    ("iotx-oxssharez600", "us-east-1"),
    ("iotx-oxssharez700", "eu-central-1"),
];

/// The editions a catalog row may name.
pub const EDITIONS: [&str; 4] = ["public", "standard", "premium", "exclusive"];

/// One instance devices can live in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// Instance ID.
    pub id: String,
    /// Region ID.
    pub region: String,
    /// `public`, `standard`, `premium` or `exclusive`.
    pub edition: String,
    /// Owning account; `None` for public instances.
    pub owner_uid: Option<String>,
    /// Device quota; `None` when unlimited.
    pub device_quota: Option<u64>,
    /// Devices in the instance now.
    pub devices_in_use: u64,
}

impl Instance {
    /// Devices the instance can still take, `None` when unlimited.
    pub fn headroom(&self) -> Option<u64> {
        self.device_quota.map(|quota| quota.saturating_sub(self.devices_in_use))
    }
}

/// Index of an instance in its [`Catalog`].
pub(crate) type InstanceId = u32;

/// Every known instance, addressable by ID.
#[derive(Debug, Clone)]
pub struct Catalog {
    instances: Vec<Instance>,
    by_id: HashMap<String, InstanceId>,
    /// The file the plan's instances came from, if any.
    file: Option<PathBuf>,
}

impl Catalog {
    /// The public instances only.
    pub fn public() -> Catalog {
        let mut catalog = Catalog { instances: Vec::new(), by_id: HashMap::default(), file: None };
        for (id, region) in PUBLIC_INSTANCES {
            catalog.insert(Instance {
                id: id.to_string(),
                region: region.to_string(),
                edition: "public".to_string(),
                owner_uid: None,
                device_quota: None,
                devices_in_use: 0,
            });
        }
        catalog
    }

    /// The public instances plus those of `path`. A row may restate a public instance (to
    /// give it a quota, say); an ID listed twice in the file is an error.
    pub fn load(path: &Path) -> Result<Catalog, FormatError> {
        devdist_formats::require_regular_file(path)?;
        let mut catalog = Catalog::public();
        catalog.file = Some(path.to_path_buf());
        let mut seen: HashMap<String, u64> = HashMap::default();
        for row in read_catalog(path)? {
            let at = |column: &str| Position::line(row.line).with_column(column);
            if let Some(first) = seen.insert(row.instance_id.clone(), row.line) {
                let message = format!("instance {:?} is listed again (first on line {first})", row.instance_id);
                return Err(FormatError::invalid(path, at("instance_id"), message));
            }
            if !EDITIONS.contains(&row.edition.as_str()) {
                let message = format!("edition {:?} is not public, standard, premium or exclusive", row.edition);
                return Err(FormatError::invalid(path, at("edition"), message));
            }
            if row.region.is_empty() {
                return Err(FormatError::invalid(path, at("region"), "empty region"));
            }
            if let Some((column, message)) = redefines_public(&row) {
                return Err(FormatError::invalid(path, at(column), message));
            }
            catalog.insert(instance_of(row));
        }
        Ok(catalog)
    }

    fn insert(&mut self, instance: Instance) {
        match self.by_id.get(&instance.id) {
            Some(&at) => self.instances[at as usize] = instance,
            None => {
                self.by_id.insert(instance.id.clone(), self.instances.len() as InstanceId);
                self.instances.push(instance);
            }
        }
    }

    /// The catalog file read, if the plan names one.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Every instance, the public ones first, then the catalog file's in file order.
    pub fn instances(&self) -> &[Instance] {
        &self.instances
    }

    /// Looks an instance up by ID.
    pub fn find(&self, id: &str) -> Option<InstanceId> {
        self.by_id.get(id).copied()
    }

    /// The instance at `id`.
    pub fn get(&self, id: InstanceId) -> &Instance {
        &self.instances[id as usize]
    }

    /// Number of instances.
    pub fn len(&self) -> usize {
        self.instances.len()
    }

    /// Whether the catalog is empty (never: the public instances are built in).
    pub fn is_empty(&self) -> bool {
        self.instances.is_empty()
    }
}

/// A row may restate a built-in public instance (to give it a quota), but not move it to
/// another region, edition or owner: which column would, and why.
fn redefines_public(row: &CatalogRow) -> Option<(&'static str, String)> {
    let (id, region) = PUBLIC_INSTANCES.iter().find(|(id, _)| *id == row.instance_id)?;
    let built_in = format!("{id} is a built-in public instance in {region}; a row may restate only its quota");
    if row.region != *region {
        Some(("region", format!("{built_in}, not region {:?}", row.region)))
    } else if row.edition != "public" {
        Some(("edition", format!("{built_in}, not edition {:?}", row.edition)))
    } else if !row.owner_uid.is_empty() {
        Some(("owner_uid", format!("{built_in}, not owner_uid {:?}", row.owner_uid)))
    } else {
        None
    }
}

fn instance_of(row: CatalogRow) -> Instance {
    Instance {
        id: row.instance_id,
        region: row.region,
        owner_uid: Some(row.owner_uid).filter(|uid| !uid.is_empty()),
        edition: row.edition,
        device_quota: row.device_quota,
        devices_in_use: row.devices_in_use,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_instances_are_built_in() {
        let catalog = Catalog::public();
        let id = catalog.find("iotx-oxssharez700").unwrap();
        assert_eq!(catalog.get(id).region, "eu-central-1");
        assert_eq!(catalog.get(id).owner_uid, None);
        assert_eq!(catalog.get(id).headroom(), None);
        assert_eq!(catalog.len(), 6);
    }

    #[test]
    fn file_adds_instances_and_rejects_repeats() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("instances.csv");
        let header = "instance_id,region,edition,owner_uid,device_quota,devices_in_use\n";
        std::fs::write(&path, format!("{header}iot-eu0001,eu-central-1,standard,42,100,90\n")).unwrap();
        let catalog = Catalog::load(&path).unwrap();
        let eu = catalog.get(catalog.find("iot-eu0001").unwrap());
        assert_eq!((eu.owner_uid.as_deref(), eu.headroom()), (Some("42"), Some(10)));

        std::fs::write(&path, format!("{header}a,r,standard,,,\na,r,premium,,,\n")).unwrap();
        let err = Catalog::load(&path).unwrap_err().to_string();
        assert!(
            err.ends_with("line 3, column \"instance_id\": instance \"a\" is listed again (first on line 2)"),
            "{err}"
        );

        std::fs::write(&path, format!("{header}a,r,gold,,,\n")).unwrap();
        let err = Catalog::load(&path).unwrap_err().to_string();
        assert!(err.contains("edition \"gold\""), "{err}");
    }

    #[test]
    fn a_public_instance_may_be_restated_with_a_quota_but_not_moved() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("instances.csv");
        let header = "instance_id,region,edition,owner_uid,device_quota,devices_in_use\n";
        std::fs::write(&path, format!("{header}iotx-oxssharez700,eu-central-1,public,,100,90\n")).unwrap();
        let catalog = Catalog::load(&path).unwrap();
        let eu = catalog.get(catalog.find("iotx-oxssharez700").unwrap());
        assert_eq!((eu.region.as_str(), eu.owner_uid.as_deref(), eu.headroom()), ("eu-central-1", None, Some(10)));
        assert_eq!(catalog.len(), 6);

        let built_in =
            "iotx-oxssharez700 is a built-in public instance in eu-central-1; a row may restate only its quota";
        for (row, column, what) in [
            ("iotx-oxssharez700,cn-shanghai,public,,,", "region", "region \"cn-shanghai\""),
            ("iotx-oxssharez700,eu-central-1,standard,,,", "edition", "edition \"standard\""),
            ("iotx-oxssharez700,eu-central-1,public,1234567890123456,,", "owner_uid", "owner_uid \"1234567890123456\""),
        ] {
            std::fs::write(&path, format!("{header}iot-eu0001,eu-central-1,standard,42,,\n{row}\n")).unwrap();
            let err = Catalog::load(&path).unwrap_err().to_string();
            let want = format!("line 3, column \"{column}\": {built_in}, not {what}");
            assert!(err.ends_with(&want), "{err}\nwant the end {want}");
        }
    }
}
