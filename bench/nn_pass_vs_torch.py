"""One fused K-FAC pass of ngdx.nn against PyTorch's forward + backward, same data and
threads (issue 11's teacher-student classification shape)."""
import time, numpy as np, torch, ngdx
from ngdx import _core
torch.set_num_threads(2)
rng = np.random.default_rng(0)
n, ls = 100_000, (50, 128, 128, 10)
X = rng.normal(size=(n, 50)); y = rng.integers(0, 10, n).astype(float)
net = ngdx.nn.MLP(ls, activation="relu", output="multinomial")
theta = ngdx.nn.flatten(net.init(0)); p = theta.size
g = np.empty(p)
def best(f, k=7):
    f(); ts = []
    for _ in range(k):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return min(ts), float(np.median(ts))
for curv, kind in [("none", "true"), ("kfac", "true"), ("kfac", "mc"), ("kfac", "empirical")]:
    fac = [np.empty((i + 1, i + 1)) if j == 0 else np.empty((o, o)) for i, o in net.shapes for j in (0, 1)] if curv == "kfac" else None
    r = best(lambda: _core.nn.fused_pass(X, y, None, list(ls), theta, "relu", "multinomial", curv, kind, 1, 0, 2, g, fac, None))
    print(f"ngdx fused pass {curv:5s} {kind:9s}: min {r[0]*1e3:7.1f} ms  median {r[1]*1e3:7.1f} ms")
yt = torch.tensor(y, dtype=torch.long)
for dtype in (torch.float64, torch.float32):
    Xt = torch.tensor(X, dtype=dtype)
    params = [torch.tensor(a, dtype=dtype, requires_grad=True)
              for W, b in net.init(0) for a in (W, b)]

    def forward_backward():
        h = Xt
        for l in range(3):
            h = h @ params[2 * l] + params[2 * l + 1]
            if l < 2:
                h = torch.relu(h)
        loss = torch.nn.functional.cross_entropy(h, yt)
        for q in params:
            q.grad = None
        loss.backward()

    r = best(forward_backward)
    print(f"torch {str(dtype)[6:]} forward+backward   : min {r[0]*1e3:7.1f} ms  "
          f"median {r[1]*1e3:7.1f} ms")
