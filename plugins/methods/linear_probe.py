"""Method plugin ``linear-probe``: logistic regression on frozen CLIP image features of the
labeled source (CLIP's linear-probe protocol; docs/methods.md).

Features are L2-normalised image embeddings (eval preprocessing, no
augmentation). The inverse regularisation strength C is chosen by accuracy on a
stratified hold-out of the *source* (never the target), then the model is refit
on the whole source with that C, with scikit-learn's L-BFGS solver. With too few images
for a hold-out (a 1-shot probe), C is chosen on the fitting images themselves.
"""

from __future__ import annotations

from udabench import HParam, Method, Setting, hookimpl


class LinearProbe(Method):
    name = "linear-probe"
    setting = Setting.SOURCE_ONLY
    fidelity = "standard"
    summary = "logistic regression on frozen source features; C searched on a source hold-out"
    hparams = (
        HParam("c_values", (0.1, 1.0, 10.0, 100.0, 1000.0), "candidate inverse regularisation strengths",
               type=tuple, exclusive_minimum=0),
        HParam("holdout", 0.2, "fraction of each source class held out to choose C (0: none, C is chosen "
                               "on the fitting images)", minimum=0, exclusive_maximum=1),
        HParam("max_iter", 1000, "L-BFGS iterations", minimum=1),
    )

    def adapt(self, ctx, backbone, data):
        import numpy as np
        import torch

        from udabench import FeatureClassifier, extract_features, stratified_split

        feats, labels = extract_features(backbone, self.training_images(data), ctx, desc="features")
        x = feats.numpy()
        fit_idx, val_idx = stratified_split(labels, 1 - self.config.holdout, ctx.seed)
        scores = {}
        if len(val_idx) == 0 or len(np.unique(labels[fit_idx])) < 2:  # too few images to hold any out
            fit_idx, val_idx = np.arange(len(labels)), np.arange(len(labels))
        for c in self.config.c_values:
            clf = self._fit(x[fit_idx], labels[fit_idx], c, ctx.seed, data.num_classes)
            scores[c] = float((clf.predict(x[val_idx]) == labels[val_idx]).mean())
            ctx.log_metrics({"probe/holdout_acc": 100 * scores[c], "probe/C": float(c)},
                            len(scores))
        best_c = max(scores, key=lambda c: (scores[c], -c))  # ties: the stronger regularisation
        ctx.log_metrics({"probe/best_C": float(best_c)}, None)
        clf = self._fit(x, labels, best_c, ctx.seed, data.num_classes)
        head = torch.nn.Linear(x.shape[1], data.num_classes)
        coef, intercept = self._full_coef(clf, data.num_classes, x.shape[1])
        with torch.no_grad():
            head.weight.copy_(torch.from_numpy(coef))
            head.bias.copy_(torch.from_numpy(intercept))
        return FeatureClassifier(backbone, head.to(backbone.device), frozen_encoder=True)

    def training_images(self, data):
        """The labeled images the probe is fitted on: the source (the few-shot variant: the shots)."""
        return data.source

    def _fit(self, x, y, c, seed, num_classes):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=c, max_iter=self.config.max_iter, random_state=seed).fit(x, y)

    @staticmethod
    def _full_coef(clf, num_classes, dim):
        """Coefficients for all C classes (a class absent from the source gets -inf-like bias)."""
        import numpy as np

        coef = np.zeros((num_classes, dim), np.float32)
        bias = np.full(num_classes, -1e4, np.float32)
        cls = clf.classes_.astype(int)
        if len(cls) == 2:  # sklearn keeps one row for two classes
            coef[cls[1]], bias[cls[1]] = clf.coef_[0], clf.intercept_[0]
            coef[cls[0]], bias[cls[0]] = 0.0, 0.0
        else:
            coef[cls], bias[cls] = clf.coef_, clf.intercept_
        return coef, bias


@hookimpl
def register_methods(register):
    register(LinearProbe)
