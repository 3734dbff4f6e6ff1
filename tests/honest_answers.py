"""One honest answer per graded exercise, written independently of the notebooks' solutions (loops, np.flip,
np.einsum, sliding_window_view; not the notebook's spelling), as the source text of a student's .py file.

Used by tests/test_sandbox.py (every exercise through the sandbox) and tests/test_exercises_reworked.py (the
reworked exercises' mistakes, written into these answers, through the grader).
"""

HONEST = {
    "hidden_delta_tanh": """
        import numpy as np

        def hidden_delta_tanh(W_next, delta_next, a):
            out = np.zeros_like(a)
            for n, j in np.ndindex(*a.shape):
                t = a[n, j] / 1.7159
                out[n, j] = sum(delta_next[n, k] * W_next[k, j] for k in range(len(W_next))) * 1.7159 * (2 / 3) * (1 - t * t)
            return out
    """,
    "scatter_input_gradient": """
        import numpy as np
        def scatter_input_gradient(delta, W, input_shape):
            dx = np.zeros(input_shape)
            for (i, j), d in np.ndenumerate(delta):
                dx[i:i + W.shape[0], j:j + W.shape[1]] += d * W
            return dx
    """,
    "my_same_convolve2d": """
        import numpy as np
        from cnnlib.signal import correlate2d

        def my_same_convolve2d(x, k):
            KH, KW = k.shape
            xp = np.pad(x, ((KH // 2, (KH - 1) // 2), (KW // 2, (KW - 1) // 2)))
            return correlate2d(xp, np.flip(k), "valid")
    """,
    "convolution_layer_backward": """
        import numpy as np

        def convolution_layer_backward(x, W, delta):
            win = np.lib.stride_tricks.sliding_window_view(delta, W.shape[1:])
            return np.einsum("abmn,cmn->cab", win, W), np.einsum("abmn,cab->cmn", win, x), delta.sum()
    """,
    "strided_weight_gradient": """
        import numpy as np
        def strided_weight_gradient(x, delta, KH, KW, stride, padding, dilation):
            xp, (Ho, Wo), s, d = np.pad(x, padding), delta.shape, stride, dilation
            # dW[m, n]: δ against the pixels tap (m, n) touched, one strided slice per tap
            return np.array([[np.sum(delta * xp[m * d:m * d + s * (Ho - 1) + 1:s, n * d:n * d + s * (Wo - 1) + 1:s])
                              for n in range(KW)] for m in range(KH)])
    """,
    "filter_recovery_gradient": """
        import numpy as np

        def filter_recovery_gradient(x, W, b, y, tau):
            KH, KW = W.shape[2:]
            Ho, Wo = x.shape[2] - KH + 1, x.shape[3] - KW + 1
            z = np.zeros((len(x), len(W), Ho, Wo)) + b[:, None, None]
            for u, v in np.ndindex(KH, KW):  # one kernel tap at a time
                z += np.tensordot(x[:, :, u:u + Ho, v:v + Wo], W[:, :, u, v], axes=([1], [1])).transpose(0, 3, 1, 2)
            delta = np.clip(z - y, -tau, tau) / len(x)
            dW = np.zeros(W.shape)
            for u, v in np.ndindex(KH, KW):
                dW[:, :, u, v] = np.tensordot(delta, x[:, :, u:u + Ho, v:v + Wo], axes=([0, 2, 3], [0, 2, 3]))
            return dW, delta.sum(axis=(0, 2, 3))
    """,
    "maxpool_backward": """
        import numpy as np

        def maxpool_backward(x, dout, k, stride):
            windows = np.lib.stride_tricks.sliding_window_view(x, (k, k))[::stride, ::stride]
            first = windows.reshape(dout.shape + (k * k,)).argmax(axis=-1)  # the first maximum, row by row
            dx = np.zeros(x.shape)
            for (i, j), t in np.ndenumerate(first):
                dx[i * stride + t // k, j * stride + t % k] += dout[i, j]
            return dx
    """,
    "padded_maxpool_backward": """
        import numpy as np

        def padded_maxpool_backward(x, dout, k, stride, padding):
            p = padding
            xp = np.pad(x, p, constant_values=-np.inf)
            windows = np.lib.stride_tricks.sliding_window_view(xp, (k, k))[::stride, ::stride]
            first = windows[:dout.shape[0], :dout.shape[1]].reshape(dout.shape + (k * k,)).argmax(axis=-1)
            rows = np.arange(dout.shape[0])[:, None] * stride + first // k
            cols = np.arange(dout.shape[1])[None, :] * stride + first % k
            dxp = np.zeros(xp.shape)
            np.add.at(dxp, (rows, cols), dout)
            return dxp[p:p + x.shape[0], p:p + x.shape[1]]
    """,
    "softmax_ce_backward": """
        import numpy as np

        def softmax_ce_backward(logits, labels, weights):
            out = np.zeros_like(logits)
            total = sum(weights[c] for c in labels)
            for n, row in enumerate(logits):
                e = np.exp(row - row.max())
                out[n] = weights[labels[n]] * (e / e.sum() - np.eye(len(row))[labels[n]]) / total
            return out
    """,
    "softmax_mse_backward": """
        import numpy as np
        def softmax_mse_backward(logits, labels):
            out = np.zeros(logits.shape)
            for n, row in enumerate(logits):
                p = np.exp(row - row.max())
                p /= p.sum()
                g = p.copy()
                g[labels[n]] -= 1
                out[n] = p * (g - p @ g) / len(labels)  # Jᵀg for J = diag(p) − p pᵀ, without building J
            return out
    """,
    "conv_delta": """
        import numpy as np
        def conv_delta(z, W_fc, delta_fc):
            N, F, H, W = z.shape
            d = (delta_fc @ W_fc).reshape(N, F, H // 2, W // 2)
            a = np.where(z > 0, z, 0.0)
            out = np.zeros_like(z)
            for n, f, i, j in np.ndindex(*d.shape):
                block = a[n, f, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
                r, c = np.unravel_index(block.argmax(), (2, 2))
                out[n, f, 2 * i + r, 2 * j + c] = d[n, f, i, j]
            return np.where(z > 0, out, 0.0)
    """,
    "col2im": """
        import numpy as np

        def col2im(dcols, C, H, W, KH, KW, stride, dilation):
            s, d = stride, dilation
            Ho, Wo = (H - d * (KH - 1) - 1) // s + 1, (W - d * (KW - 1) - 1) // s + 1
            c, m, k, i, j = np.meshgrid(*map(np.arange, (C, KH, KW, Ho, Wo)), indexing="ij")
            dx = np.zeros((C, H, W))
            np.add.at(dx, (c, s * i + d * m, s * j + d * k), dcols.reshape(C, KH, KW, Ho, Wo))
            return dx
    """,
    "conv_transpose_weight_gradient": """
        import numpy as np

        def conv_transpose_weight_gradient(x, delta, KH, KW, stride, padding):
            s = stride
            spread = np.zeros((s * (x.shape[0] - 1) + 1, s * (x.shape[1] - 1) + 1))
            spread[::s, ::s] = x
            win = np.lib.stride_tricks.sliding_window_view(np.pad(delta, padding), spread.shape)
            return np.einsum("mnab,ab->mn", win, spread)
    """,
    "taps_backward": """
        import numpy as np

        def taps_backward(grads, x_shape, stride, dilation):
            KH, KW, Ho, Wo = grads.shape
            m, n, i, j = np.meshgrid(*map(np.arange, grads.shape), indexing="ij")
            dx = np.zeros(x_shape)
            np.add.at(dx, (dilation * m + stride * i, dilation * n + stride * j), grads)
            return dx
    """,
}
