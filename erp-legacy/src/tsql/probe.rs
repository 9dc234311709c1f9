//! Reads statement data that sea-query keeps `pub(crate)`.
//!
//! The T-SQL builder needs a few facts sea-query does not expose to other crates: a
//! SELECT's limit and offset and whether it has an ORDER BY, the parts of a DELETE. They
//! are, however, handed to the builder's hooks. [`Probe`] is a throw-away builder whose
//! hooks record what they receive instead of writing SQL: running one of sea-query's
//! default statement methods with a probe therefore reveals the data.
//!
//! The probe never recurses into expressions, conditions, table references, unions or
//! CTEs (those hooks record or do nothing), so (a) it only sees the statement it is given,
//! not nested ones, and (b) the only text it writes is sea-query's own keywords, never
//! identifiers or values; the few checks made on that text (`" ORDER BY "`, `" LIMIT "`)
//! cannot be fooled by data.
//!
//! This relies on the hook order of sea-query 1.0's default implementations; the golden
//! tests pin the result, so an upgrade that changes it fails loudly.

use std::cell::{Cell, RefCell};

use sea_query::{
    BinOper, ConditionHolder, DeleteStatement, DynIden, EscapeBuilder, ExplainStatement, Expr,
    FunctionCall, LockClause, Oper, OperLeftAssocDecider, OrderExpr, PrecedenceDecider,
    QueryBuilder, Quote, QuotedBuilder, ReturningClause, SelectInto, SelectStatement, SqlWriter,
    SqliteQueryBuilder, SubQueryStatement, TableRef, TableRefBuilder, UnionType, Value, Values,
    WindowStatement, WithClause,
};

/// A builder that records instead of rendering. See the module docs.
#[derive(Debug, Default)]
pub(super) struct Probe {
    /// Also clone the WITH clause, target table, RETURNING and WHERE of a statement (only
    /// wanted for DELETE, see [`delete_parts`]).
    capture_parts: bool,
    values: RefCell<Vec<Value>>,
    field_values: RefCell<Option<Values>>,
    has_union: Cell<bool>,
    with: RefCell<Option<WithClause>>,
    table: RefCell<Option<TableRef>>,
    returning: RefCell<Option<ReturningClause>>,
    condition: RefCell<Option<ConditionHolder>>,
}

/// A SELECT's LIMIT and OFFSET values, as sea-query stores them (`BigUnsigned`).
#[derive(Debug, Default)]
pub(super) struct LimitOffset {
    pub(super) limit: Option<Value>,
    pub(super) offset: Option<Value>,
}

/// Reads the LIMIT and OFFSET of `select` (not of nested selects).
pub(super) fn limit_offset(select: &SelectStatement) -> LimitOffset {
    let probe = Probe::default();
    let mut text = String::new();
    probe.prepare_select_limit_offset(select, &mut text);
    // sea-query writes " LIMIT " before the limit value and " OFFSET " before the offset
    // one, in that order; the probe's `prepare_value` writes nothing and records.
    let mut values = probe.values.take().into_iter();
    let limit = if text.contains(" LIMIT ") {
        values.next()
    } else {
        None
    };
    let offset = if text.contains(" OFFSET ") {
        values.next()
    } else {
        None
    };
    LimitOffset { limit, offset }
}

/// What the T-SQL builder must know about a SELECT to place OFFSET/FETCH.
#[derive(Debug, Clone, Copy)]
pub(super) struct SelectShape {
    pub(super) has_order: bool,
    pub(super) has_union: bool,
}

/// Reads whether `select` itself (not a nested select) has an ORDER BY and a UNION.
pub(super) fn select_shape(select: &SelectStatement) -> SelectShape {
    let probe = Probe::default();
    let mut text = String::new();
    probe.prepare_select_statement(select, &mut text);
    SelectShape {
        has_order: text.contains(" ORDER BY "),
        has_union: probe.has_union.get(),
    }
}

/// The parts of a DELETE, for the T-SQL builder to write them in its own order.
#[derive(Debug)]
pub(super) struct DeleteParts {
    pub(super) with: Option<WithClause>,
    pub(super) table: Option<TableRef>,
    pub(super) returning: Option<ReturningClause>,
    pub(super) condition: ConditionHolder,
    pub(super) has_order: bool,
    pub(super) has_limit: bool,
}

/// Reads the parts of `delete`.
pub(super) fn delete_parts(delete: &DeleteStatement) -> DeleteParts {
    let probe = Probe {
        capture_parts: true,
        ..Probe::default()
    };
    let mut text = String::new();
    probe.prepare_delete_statement(delete, &mut text);
    DeleteParts {
        with: probe.with.take(),
        table: probe.table.take(),
        returning: probe.returning.take(),
        condition: probe.condition.take().unwrap_or_default(),
        has_order: text.contains(" ORDER BY "),
        has_limit: text.contains(" LIMIT "),
    }
}

/// How an ORDER BY item sorts: `" ASC"`/`" DESC"`, or the value list of `Order::Field`.
#[derive(Debug)]
pub(super) enum Direction {
    Keyword(String),
    Field(Values),
}

/// Reads the direction of `order_expr`.
pub(super) fn direction(order_expr: &OrderExpr) -> Direction {
    let probe = Probe::default();
    let mut text = String::new();
    probe.prepare_order(order_expr, &mut text);
    match probe.field_values.take() {
        Some(values) => Direction::Field(values),
        None => Direction::Keyword(text),
    }
}

/// Renders one clause with the probe and tells whether it wrote anything: used for
/// clauses that are empty unless the statement uses a feature T-SQL lacks.
pub(super) fn writes_anything(f: impl FnOnce(&Probe, &mut String)) -> bool {
    let probe = Probe::default();
    let mut text = String::new();
    f(&probe, &mut text);
    !text.is_empty()
}

impl QuotedBuilder for Probe {
    fn quote(&self) -> Quote {
        Quote::new(b'"')
    }

    fn prepare_iden(&self, _: &DynIden, _: &mut impl SqlWriter) {
        // Identifiers are data: never written, see the module docs.
    }
}

impl EscapeBuilder for Probe {}

impl TableRefBuilder for Probe {}

impl OperLeftAssocDecider for Probe {
    fn well_known_left_associative(&self, op: &BinOper) -> bool {
        SqliteQueryBuilder.well_known_left_associative(op)
    }
}

impl PrecedenceDecider for Probe {
    fn inner_expr_well_known_greater_precedence(&self, inner: &Expr, outer_oper: &Oper) -> bool {
        SqliteQueryBuilder.inner_expr_well_known_greater_precedence(inner, outer_oper)
    }
}

impl QueryBuilder for Probe {
    fn prepare_value(&self, value: Value, _: &mut impl SqlWriter) {
        self.values.borrow_mut().push(value);
    }

    fn prepare_expr(&self, _: &Expr, _: &mut impl SqlWriter) {}

    fn prepare_field_order(&self, _: &OrderExpr, values: &Values, _: &mut impl SqlWriter) {
        *self.field_values.borrow_mut() = Some(values.clone());
    }

    fn prepare_table_ref(&self, table_ref: &TableRef, _: &mut impl SqlWriter) {
        if self.capture_parts {
            *self.table.borrow_mut() = Some(table_ref.clone());
        }
    }

    fn prepare_with_clause(&self, with_clause: &WithClause, _: &mut impl SqlWriter) {
        if self.capture_parts {
            *self.with.borrow_mut() = Some(with_clause.clone());
        }
    }

    fn prepare_condition(&self, condition: &ConditionHolder, _: &str, _: &mut impl SqlWriter) {
        if self.capture_parts {
            *self.condition.borrow_mut() = Some(condition.clone());
        }
    }

    fn prepare_output(&self, returning: &Option<ReturningClause>, _: &mut impl SqlWriter) {
        if self.capture_parts {
            self.returning.borrow_mut().clone_from(returning);
        }
    }

    fn prepare_returning(&self, _: &Option<ReturningClause>, _: &mut impl SqlWriter) {}

    fn prepare_union_statement(&self, _: UnionType, _: &SelectStatement, _: &mut impl SqlWriter) {
        self.has_union.set(true);
    }

    fn prepare_join_expr(&self, _: &sea_query::JoinExpr, _: &mut impl SqlWriter) {}

    fn prepare_window_statement(&self, _: &WindowStatement, _: &mut impl SqlWriter) {}

    fn prepare_select_lock(&self, _: &LockClause, _: &mut impl SqlWriter) {}

    fn prepare_function_name(&self, _: &sea_query::Func, _: &mut impl SqlWriter) {}

    fn prepare_query_statement(&self, _: &SubQueryStatement, _: &mut impl SqlWriter) {}

    fn prepare_select_into(&self, _: &SelectInto, _: &mut impl SqlWriter) {}

    fn prepare_explain_statement(&self, _: &ExplainStatement, _: &mut impl SqlWriter) {}
}

/// Whether `func` carries an aggregate `FILTER (WHERE ...)` clause.
pub(super) fn has_filter(func: &FunctionCall) -> bool {
    let probe = Probe::default();
    let mut text = String::new();
    probe.prepare_function_arguments(func, &mut text);
    text.contains(" FILTER (WHERE ")
}
