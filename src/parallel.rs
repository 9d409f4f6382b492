//! Order-preserving parallel maps: rayon with the `parallel` feature, a plain
//! loop without it. Results come back in input order either way, so callers
//! that combine them in that order get the same value for any thread count.

/// `f` of every item, in item order.
pub(crate) fn map_slice<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(&T) -> R + Sync + Send,
) -> Vec<R> {
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        items.par_iter().map(f).collect()
    }
    #[cfg(not(feature = "parallel"))]
    {
        items.iter().map(f).collect()
    }
}

/// `f(i)` for every `i` in `0..n`, in order.
pub(crate) fn map_range<R: Send>(n: usize, f: impl Fn(usize) -> R + Sync + Send) -> Vec<R> {
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        (0..n).into_par_iter().map(f).collect()
    }
    #[cfg(not(feature = "parallel"))]
    {
        (0..n).map(f).collect()
    }
}

/// `f(k, chunk)` for every `chunk_len`-long piece of `data` (the last may be
/// shorter), `k` counting pieces from 0; results in piece order.
pub(crate) fn map_chunks_mut<T: Send, R: Send>(
    data: &mut [T],
    chunk_len: usize,
    f: impl Fn(usize, &mut [T]) -> R + Sync + Send,
) -> Vec<R> {
    let chunk_len = chunk_len.max(1);
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        data.par_chunks_mut(chunk_len)
            .enumerate()
            .map(|(k, chunk)| f(k, chunk))
            .collect()
    }
    #[cfg(not(feature = "parallel"))]
    {
        data.chunks_mut(chunk_len)
            .enumerate()
            .map(|(k, chunk)| f(k, chunk))
            .collect()
    }
}
