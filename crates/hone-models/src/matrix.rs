//! A dense, column-major `f64` matrix.
//!
//! Column-major because every preprocessing step works column by column, LightGBM accepts it
//! directly, and a fold's matrix is built by gathering its rows from each feature column once.

/// Dense column-major matrix: column `j` is `data[j * n_rows .. (j + 1) * n_rows]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    n_rows: usize,
    n_cols: usize,
    data: Vec<f64>,
}

impl Matrix {
    /// A matrix from column-major data. Panics if `data.len() != n_rows * n_cols`.
    pub fn from_col_major(n_rows: usize, n_cols: usize, data: Vec<f64>) -> Self {
        assert_eq!(data.len(), n_rows * n_cols, "matrix data length");
        Self {
            n_rows,
            n_cols,
            data,
        }
    }

    /// Gathers `rows` (positions) of each column into a new matrix.
    pub fn gather(columns: &[Vec<f64>], rows: &[usize]) -> Self {
        let mut data = Vec::with_capacity(columns.len() * rows.len());
        for c in columns {
            data.extend(rows.iter().map(|&i| c[i]));
        }
        Self::from_col_major(rows.len(), columns.len(), data)
    }

    /// A matrix from whole columns.
    pub fn from_columns(columns: &[Vec<f64>]) -> Self {
        let n_rows = columns.first().map_or(0, Vec::len);
        let mut data = Vec::with_capacity(columns.len() * n_rows);
        for c in columns {
            assert_eq!(c.len(), n_rows, "ragged columns");
            data.extend_from_slice(c);
        }
        Self::from_col_major(n_rows, columns.len(), data)
    }

    /// A matrix from row-major data.
    pub fn from_row_major(n_rows: usize, n_cols: usize, rows: &[f64]) -> Self {
        assert_eq!(rows.len(), n_rows * n_cols, "matrix data length");
        let mut data = vec![0.0; rows.len()];
        for i in 0..n_rows {
            for j in 0..n_cols {
                data[j * n_rows + i] = rows[i * n_cols + j];
            }
        }
        Self::from_col_major(n_rows, n_cols, data)
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Number of columns.
    pub fn n_cols(&self) -> usize {
        self.n_cols
    }

    /// Column `j`.
    pub fn col(&self, j: usize) -> &[f64] {
        &self.data[j * self.n_rows..(j + 1) * self.n_rows]
    }

    /// Column `j`, mutably.
    pub fn col_mut(&mut self, j: usize) -> &mut [f64] {
        &mut self.data[j * self.n_rows..(j + 1) * self.n_rows]
    }

    /// Element `(i, j)`.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.data[j * self.n_rows + i]
    }

    /// All values, column-major.
    pub fn as_col_major(&self) -> &[f64] {
        &self.data
    }

    /// The values in row-major order.
    pub fn to_row_major(&self) -> Vec<f64> {
        let mut out = vec![0.0; self.data.len()];
        for j in 0..self.n_cols {
            for (i, v) in self.col(j).iter().enumerate() {
                out[i * self.n_cols + j] = *v;
            }
        }
        out
    }

    /// A matrix of the given columns, in the given order.
    pub fn select_columns(&self, cols: &[usize]) -> Self {
        let mut data = Vec::with_capacity(cols.len() * self.n_rows);
        for &j in cols {
            data.extend_from_slice(self.col(j));
        }
        Self::from_col_major(self.n_rows, cols.len(), data)
    }

    /// A matrix of the given rows, in the given order.
    pub fn select_rows(&self, rows: &[usize]) -> Self {
        let mut data = Vec::with_capacity(rows.len() * self.n_cols);
        for j in 0..self.n_cols {
            let c = self.col(j);
            data.extend(rows.iter().map(|&i| c[i]));
        }
        Self::from_col_major(rows.len(), self.n_cols, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_round_trip() {
        let m = Matrix::from_row_major(2, 3, &[1., 2., 3., 4., 5., 6.]);
        assert_eq!(m.col(1), &[2., 5.]);
        assert_eq!(m.to_row_major(), vec![1., 2., 3., 4., 5., 6.]);
        assert_eq!(
            m.select_columns(&[2, 0]).to_row_major(),
            vec![3., 1., 6., 4.]
        );
        assert_eq!(m.select_rows(&[1]).to_row_major(), vec![4., 5., 6.]);
        let g = Matrix::gather(&[vec![1., 4.], vec![2., 5.], vec![3., 6.]], &[1, 0]);
        assert_eq!(g.to_row_major(), vec![4., 5., 6., 1., 2., 3.]);
        assert_eq!(g.get(0, 2), 6.);
    }
}
