//! The legacy records of a customs-clearance and forwarding business.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{LegacyError, Result};

/// A customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    /// Client code (the legacy key).
    pub code: String,
    /// Name.
    pub name: String,
    /// Business registration number.
    pub business_reg_no: Option<String>,
    /// Contact person.
    pub contact_name: Option<String>,
    /// Contact phone.
    pub contact_phone: Option<String>,
    /// Contact e-mail.
    pub contact_email: Option<String>,
    /// Address.
    pub address: Option<String>,
    /// Billing currency (ISO 4217).
    pub currency: String,
    /// Active customer.
    pub is_active: bool,
    /// Last change (the sync watermark).
    pub updated_at: DateTime<Utc>,
}

/// A customs clearance (declaration) record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClearanceRecord {
    /// Legacy id.
    pub id: i64,
    /// Clearance (declaration) number.
    pub clearance_no: String,
    /// The client's code.
    pub client_code: String,
    /// Declaration date.
    pub declaration_date: NaiveDate,
    /// HS tariff code.
    pub hs_code: String,
    /// Declared customs value (exact).
    pub customs_value: Decimal,
    /// Currency of the value.
    pub currency: String,
    /// Duty (exact).
    pub duty: Decimal,
    /// Workflow status.
    pub status: ClearanceStatus,
    /// Free notes.
    pub notes: Option<String>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// Workflow states of a clearance record, as stored (upper-case words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum ClearanceStatus {
    /// Entered, not filed.
    Draft,
    /// Filed with customs.
    Submitted,
    /// Customs asked questions.
    Inspection,
    /// Released.
    Cleared,
    /// Refused.
    Rejected,
    /// Withdrawn.
    Cancelled,
}

impl ClearanceStatus {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "DRAFT",
            Self::Submitted => "SUBMITTED",
            Self::Inspection => "INSPECTION",
            Self::Cleared => "CLEARED",
            Self::Rejected => "REJECTED",
            Self::Cancelled => "CANCELLED",
        }
    }

    /// Parses a stored or requested status (case-insensitive).
    pub fn parse(value: &str) -> Result<Self> {
        Ok(match value.trim().to_ascii_uppercase().as_str() {
            "DRAFT" => Self::Draft,
            "SUBMITTED" => Self::Submitted,
            "INSPECTION" => Self::Inspection,
            "CLEARED" => Self::Cleared,
            "REJECTED" => Self::Rejected,
            "CANCELLED" => Self::Cancelled,
            _ => {
                return Err(LegacyError::InvalidInput {
                    field: "status",
                    message: format!("{value:?} is not a clearance status"),
                });
            }
        })
    }
}

/// A shipment (bill of lading).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shipment {
    /// Legacy id.
    pub id: i64,
    /// Bill of lading number.
    pub bl_no: String,
    /// The client's code.
    pub client_code: String,
    /// Container number.
    pub container_no: Option<String>,
    /// Port of loading.
    pub origin: String,
    /// Port of discharge.
    pub destination: String,
    /// Estimated departure.
    pub etd: Option<NaiveDate>,
    /// Estimated arrival.
    pub eta: Option<NaiveDate>,
    /// Status word.
    pub status: String,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// What the ERP writes when it books a shipment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewShipment {
    /// Bill of lading number (1..=40 characters).
    pub bl_no: String,
    /// The client's code.
    pub client_code: String,
    /// Container number.
    pub container_no: Option<String>,
    /// Port of loading.
    pub origin: String,
    /// Port of discharge.
    pub destination: String,
    /// Estimated departure.
    pub etd: Option<NaiveDate>,
    /// Estimated arrival.
    pub eta: Option<NaiveDate>,
    /// Status word (default `BOOKED`).
    pub status: Option<String>,
}

/// A page request: 1-based page, page size clamped to 1..=100 (default 20).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    /// 1-based page number.
    pub page: u32,
    /// Rows per page.
    pub page_size: u32,
}

impl Default for Page {
    fn default() -> Self {
        Self {
            page: 1,
            page_size: 20,
        }
    }
}

impl Page {
    /// Most rows a page returns.
    pub const MAX_SIZE: u32 = 100;

    /// A page with out-of-range values clamped (page >= 1, size 1..=100).
    pub fn new(page: u32, page_size: u32) -> Self {
        Self {
            page: page.max(1),
            page_size: page_size.clamp(1, Self::MAX_SIZE),
        }
    }

    pub(crate) fn offset(self) -> u64 {
        u64::from(self.page.saturating_sub(1)) * u64::from(self.page_size)
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paged<T> {
    /// The rows.
    pub items: Vec<T>,
    /// The page returned.
    pub page: u32,
    /// Its size.
    pub page_size: u32,
    /// Rows matching in all.
    pub total: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_clamped() {
        assert_eq!(
            Page::new(0, 0),
            Page {
                page: 1,
                page_size: 1
            }
        );
        assert_eq!(
            Page::new(3, 10_000),
            Page {
                page: 3,
                page_size: 100
            }
        );
        assert_eq!(Page::new(3, 20).offset(), 40);
        assert_eq!(
            Page::new(u32::MAX, 100).offset(),
            (u64::from(u32::MAX) - 1) * 100
        );
    }

    #[test]
    fn statuses_parse_case_insensitively() {
        assert_eq!(
            ClearanceStatus::parse(" cleared ").unwrap(),
            ClearanceStatus::Cleared
        );
        assert!(ClearanceStatus::parse("DROP TABLE").is_err());
    }
}
