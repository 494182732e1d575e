// Collects the transformations of one job as the API creates them.
import { Transformation, type EdgeSpec, type TransformationKind } from '../graph/transformation.js';
import type { StreamOperator } from '../runtime/stream-operator.js';

export class StreamGraphBuilder {
  readonly transformations: Transformation[] = [];

  add(
    kind: TransformationKind,
    name: string,
    inputs: readonly EdgeSpec[],
    create: () => StreamOperator,
    options: Transformation['options'] = {},
  ): Transformation {
    const t = new Transformation(this.transformations.length, kind, name, inputs, create, options);
    this.transformations.push(t);
    return t;
  }
}
